/**
 * SIMULATOR: the sampling fields both generation endpoints accept (vLLM's SamplingParams names,
 * vllm/entrypoints/openai/protocol.py). A leaf module: generation.ts and the routes read it.
 */
import { z } from 'zod';

/** The sampling fields both generation endpoints share (vLLM's SamplingParams names). */
export const genBodySchema = z
  .object({
    model: z.string().nullable().optional(),
    max_tokens: z.number().int().nullable().optional(),
    max_completion_tokens: z.number().int().nullable().optional(),
    min_tokens: z.number().int().min(0).nullable().optional(),
    stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
    stop_token_ids: z.array(z.number().int()).nullable().optional(),
    ignore_eos: z.boolean().nullable().optional(),
    skip_special_tokens: z.boolean().nullable().optional(),
    include_stop_str_in_output: z.boolean().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z
      .object({
        include_usage: z.boolean().nullable().optional(),
        continuous_usage_stats: z.boolean().nullable().optional(),
      })
      .loose()
      .nullable()
      .optional(),
    n: z.number().int().nullable().optional(),
    temperature: z.number().nullable().optional(),
    seed: z.number().int().nullable().optional(),
    // OpenAI's {"token id": bias}; vLLM clamps to [-100, 100], and -100 bans the token in practice.
    logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  })
  .loose();
export type GenBody = z.infer<typeof genBodySchema>;
