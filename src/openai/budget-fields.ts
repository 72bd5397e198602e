/**
 * thinkgate's own request fields (docs/api.md), shared by /v1/chat/completions and /v1/completions:
 * M and its aliases (vLLM's `thinking_token_budget`, Anthropic's `thinking`), m, E, the
 * extension phrase, and OpenAI's `reasoning_effort`, which picks a profile preset.
 */
import { z } from 'zod';
import { REASONING_EFFORTS } from '../profiles/profile.js';

export { REASONING_EFFORTS };

const nonNegativeInt = () => z.number().int().min(0);

export const budgetFieldsShape = {
  reasoning_effort: z.enum(REASONING_EFFORTS).optional(),
  max_thinking_tokens: nonNegativeInt().optional(),
  thinking_token_budget: nonNegativeInt().optional(),
  thinking: z
    .object({ type: z.enum(['enabled', 'disabled']), budget_tokens: nonNegativeInt().nullish() })
    .loose()
    .optional(),
  min_thinking_tokens: nonNegativeInt().optional(),
  max_thinking_extensions: nonNegativeInt().optional(),
  thinking_extension: z.string().min(1).max(200).optional(),
  // Reflection suppression (NoWait): true = the profile's phrases, or the client's own list.
  suppress_reflection: z.union([z.boolean(), z.array(z.string().min(1).max(64)).min(1).max(64)]).optional(),
  // Answer-convergence early exit (runs/early-exit.ts): true = the profile's defaults.
  thinking_early_exit: z
    .union([
      z.boolean(),
      z
        .object({
          probe_interval_tokens: z.number().int().min(1).max(1_000_000).optional(),
          agreements: z.number().int().min(1).max(16).optional(),
          // A mean token logprob: <= 0.
          min_confidence: z.number().max(0).optional(),
        })
        .strict(),
    ])
    .optional(),
};

const budgetFieldsSchema = z.object(budgetFieldsShape);
/** The budget fields of any request that carries them. */
export type BudgetRequest = z.output<typeof budgetFieldsSchema>;
