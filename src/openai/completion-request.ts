/**
 * The `/v1/completions` request body (OpenAI's legacy completions API as vLLM serves it:
 * vllm/entrypoints/openai/protocol.py, CompletionRequest). Unknown keys are kept (`.loose()`)
 * so vLLM's extras reach the backend; the thinkgate budget fields are those of chat (docs/api.md).
 *
 * `prompt` takes the four shapes vLLM takes: a string, a batch of strings, token ids, or a
 * batch of token-id lists (lm-eval's `local-completions` sends all four).
 */
import { z } from 'zod';
import { budgetFieldsShape } from './budget-fields.js';
import { samplingFieldsShape, streamFieldsShape } from './common-fields.js';
import { MAX_MODEL_ID_LENGTH } from './chat-request.js';
import { parseRequestBody } from './parse-request.js';
import { InvalidRequestError } from '../errors.js';

const int = () => z.number().int();
const tokenIds = z.array(int().min(0)).min(1);

export const completionRequestSchema = z
  .object({
    model: z.string().min(1).max(MAX_MODEL_ID_LENGTH),
    prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)], {
      error: 'expected a string, an array of strings, an array of token ids, or an array of token-id arrays.',
    }),
    ...streamFieldsShape,
    // 0 is valid (echo-only scoring requests).
    max_tokens: int().min(0).optional(),
    ...samplingFieldsShape,
    best_of: int().min(1).optional(),
    echo: z.boolean().optional(),
    logprobs: int().min(0).optional(),
    suffix: z.string().optional(),
    // vLLM's: true (its default) lets the tokenizer add BOS to a string prompt.
    add_special_tokens: z.boolean().optional(),
    ...budgetFieldsShape,
  })
  .loose();

export type CompletionRequest = z.output<typeof completionRequestSchema>;

/** vLLM's and OpenAI's default `max_tokens` for /v1/completions. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

export function parseCompletionRequest(body: unknown): CompletionRequest {
  const req = parseRequestBody(completionRequestSchema, body);
  const budget = budgetFieldOf(req);
  if (req.logprobs !== undefined && budget !== null) {
    // A request with `logprobs` is relayed (scoring), and a relay cannot force a budget. Forcing it
    // instead is not well defined in vLLM's shape: `text` is the transcript with the delimiters and
    // phrases thinkgate inserts, which are prompt to the model and have no logprobs, while
    // `tokens`/`token_logprobs`/`text_offset` promise one generated entry per piece of `text`.
    throw new InvalidRequestError(
      `\`logprobs\` cannot be combined with a thinking budget (\`${budget}\`) on /v1/completions: requests with logprobs are relayed to the backend unchanged, and a budget-forced transcript holds inserted text that has no logprobs. Use /v1/chat/completions with \`logprobs: true\`, or drop the budget.`,
      { param: 'logprobs' },
    );
  }
  return req;
}

/** The first thinkgate budget field the request sets, or null. */
function budgetFieldOf(req: CompletionRequest): string | null {
  for (const key of Object.keys(budgetFieldsShape)) {
    if ((req as Record<string, unknown>)[key] !== undefined) return key;
  }
  return null;
}

/** The prompts of a request, in choice order: one string or one id list each. */
export function promptsOf(req: CompletionRequest): Array<string | number[]> {
  const p = req.prompt;
  if (typeof p === 'string') return [p];
  if (p.every((x): x is number => typeof x === 'number')) return [p];
  return p as Array<string | number[]>;
}

/**
 * Requests thinkgate relays to the upstream unchanged instead of budget forcing them: scoring
 * requests (`echo`, `logprobs`, `prompt_logprobs`: lm-eval's loglikelihood asks for the
 * prompt's own log-probabilities, which no rewrite may touch), `suffix` and `best_of` (vLLM
 * features with no meaning across segments), and `max_tokens: 0` (nothing to generate).
 * Returns why, for the log and the response header, or null to force.
 */
export function relayReason(req: CompletionRequest): string | null {
  if (req.echo === true) return 'echo';
  if (req.logprobs !== undefined) return 'logprobs';
  if ((req as Record<string, unknown>).prompt_logprobs != null) return 'prompt_logprobs';
  if (req.suffix !== undefined) return 'suffix';
  if (req.best_of !== undefined && req.best_of > 1) return 'best_of';
  if (req.max_tokens === 0) return 'max_tokens_0';
  return null;
}
