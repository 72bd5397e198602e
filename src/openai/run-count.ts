/**
 * How many engine runs a request asks for: one per prompt and sample (prompts x n), each a
 * budget-forced generation with its own upstream streams. Issue 11 item 2: 20,000 one-token
 * prompts (an 80 KB body) exhausted the heap, and 10 prompts x n = 128 grew past 4 GB, so the
 * product is capped (`limits.max_choices_per_request`) before anything is admitted or sent.
 * The count is also the request's weight in admission (http/limiter.ts, http/key-limits.ts).
 */
import { InvalidRequestError } from '../errors.js';

/** prompts x n, or a 400 naming the field to shrink (`prompt` when the batch alone is too big). */
export function checkRunCount(prompts: number, n: number, max: number): number {
  const runs = prompts * n;
  if (runs <= max) return runs;
  const what = prompts > 1 ? `${prompts} prompts x n = ${n}` : `n = ${n}`;
  throw new InvalidRequestError(
    `This request asks for ${runs} completions (${what}); this server allows at most ${max} per request.`,
    { param: prompts > max || n === 1 ? 'prompt' : 'n', code: 'too_many_choices' },
  );
}
