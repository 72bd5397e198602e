/**
 * Request fields that /v1/chat/completions and /v1/completions share, with the ranges of the
 * OpenAI API reference and vLLM's protocol.py: streaming, and the sampling fields every segment
 * passes to vLLM. One definition, so both routes validate them alike.
 */
import { z } from 'zod';

const int = () => z.number().int();

export const streamFieldsShape = {
  stream: z.boolean().optional(),
  stream_options: z
    .object({ include_usage: z.boolean().nullish(), continuous_usage_stats: z.boolean().nullish() })
    .loose()
    .optional(),
};

export const samplingFieldsShape = {
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  n: int().min(1).max(128).optional(),
  // OpenAI allows 4 stop strings; vLLM any number, so no upper bound here.
  stop: z
    .union([z.string().min(1), z.array(z.string().min(1))], {
      error: 'expected a non-empty string or an array of non-empty strings.',
    })
    .optional(),
  seed: int().optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).optional(),
  user: z.string().optional(),
};
