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

/** Bounds on `stop` (see the field). */
export const MAX_STOP_STRINGS = 1024;
export const MAX_STOP_CHARS = 32_768;

export const samplingFieldsShape = {
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  n: int().min(1).max(128).optional(),
  // OpenAI allows 4 stop strings and vLLM any number. thinkgate bounds them (vLLM checks every
  // stop string at every token, and the engine builds a matcher of their total size per
  // request): 120,000 of them once made the simulator answer 500 (issue 11).
  stop: z
    .union([z.string().min(1), z.array(z.string().min(1))], {
      error: 'expected a non-empty string or an array of non-empty strings.',
    })
    .refine((v) => typeof v === 'string' || v.length <= MAX_STOP_STRINGS, {
      error: `at most ${MAX_STOP_STRINGS} stop strings.`,
    })
    .refine((v) => (typeof v === 'string' ? v.length : v.reduce((n, s) => n + s.length, 0)) <= MAX_STOP_CHARS, {
      error: `at most ${MAX_STOP_CHARS} characters of stop strings in all.`,
    })
    .optional(),
  seed: int().optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).optional(),
  user: z.string().optional(),
};

/** `stop` as the engine and vLLM take it: always a list (OpenAI allows one string or several). */
export function stopList(stop: string | readonly string[] | undefined): string[] {
  return stop === undefined ? [] : typeof stop === 'string' ? [stop] : [...stop];
}
