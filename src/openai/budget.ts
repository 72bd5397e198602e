/**
 * Request fields -> the engine's budget numbers (docs/budget-forcing.md).
 *
 * Precedence, per number: explicit request field > `reasoning_effort` preset of the model's
 * profile > the model's configured defaults > global defaults. M has three request spellings
 * (thinkgate's `max_thinking_tokens`, vLLM's `thinking_token_budget`, Anthropic's
 * `thinking.budget_tokens` / `thinking.type: "disabled"`); they may repeat each other but not
 * disagree.
 */
import type { Budget } from '../engine/types.js';
import { InvalidRequestError } from '../errors.js';
import type { BudgetPreset, GlobalDefaults, ModelPolicy } from '../profiles/profile.js';
import type { ChatRequest } from './chat-request.js';
import type { BudgetRequest } from './budget-fields.js';

export type BudgetFields = Pick<Budget, 'maxThinkingTokens' | 'minThinkingTokens' | 'maxExtensions' | 'extensionText' | 'extensionsClampedTo'>;

/** What budget resolution reads of the global defaults (config `defaults`). */
export type GlobalBudgetDefaults = Pick<GlobalDefaults, 'max_thinking_extensions' | 'thinking_extension'>;

/**
 * What `reasoning_effort: "none"` means when the profile has no preset for it: no thinking
 * (M = 0), as in the OpenAI API. Other efforts without a preset change nothing.
 */
const NONE_EFFORT_FALLBACK: BudgetPreset = { max_thinking_tokens: 0 };

export function resolveBudgetFields(
  req: BudgetRequest,
  policy: ModelPolicy,
  globalDefaults: GlobalBudgetDefaults,
  extensionCeiling = Infinity,
): BudgetFields {
  const preset = effortPreset(req, policy);
  const defaults = policy.defaults;

  const explicitMax = explicitMaxThinking(req);
  const maxThinkingTokens =
    explicitMax?.value ?? preset.max_thinking_tokens ?? defaults.max_thinking_tokens ?? null;

  let minThinkingTokens = req.min_thinking_tokens ?? preset.min_thinking_tokens ?? defaults.min_thinking_tokens ?? 0;
  if (maxThinkingTokens !== null && minThinkingTokens > maxThinkingTokens) {
    if (req.min_thinking_tokens !== undefined) {
      // docs/budget-forcing.md: m > M is the client's error, named after the field they sent.
      const source =
        explicitMax !== undefined
          ? explicitMax.param
          : preset.max_thinking_tokens !== undefined
            ? `the max_thinking_tokens of reasoning_effort '${String(req.reasoning_effort)}'`
            : "the model's default max_thinking_tokens";
      throw new InvalidRequestError(
        `min_thinking_tokens (${minThinkingTokens}) must not exceed ${source} (${maxThinkingTokens}).`,
        { param: 'min_thinking_tokens', code: 'invalid_value' },
      );
    }
    // A configured minimum must not turn a client's small max into a 400 it cannot fix
    // without learning our defaults: the explicit max wins and the minimum shrinks to it.
    minThinkingTokens = maxThinkingTokens;
  }

  const wantedExtensions =
    req.max_thinking_extensions ??
    preset.max_thinking_extensions ??
    defaults.max_thinking_extensions ??
    globalDefaults.max_thinking_extensions;

  // The request's phrase, else the model's: profiles/registry.ts applies the one rule (entry >
  // the operator's global phrase when set > the profile's own). The last two steps only serve a
  // policy built by hand without a phrase.
  const extensionText =
    req.thinking_extension ??
    nonEmpty(defaults.thinking_extension) ??
    nonEmpty(policy.profile.extension) ??
    globalDefaults.thinking_extension;

  // Issue 11 item 7: E = 1e9 with a huge m gave 742 segments per choice. Clamped rather than
  // refused: a large E means "as many as allowed" (s1's budget forcing), and the response says
  // which E applied (budget_forcing.extensions_clamped_to).
  const fields: BudgetFields = { maxThinkingTokens, minThinkingTokens, maxExtensions: wantedExtensions, extensionText };
  if (wantedExtensions > extensionCeiling) {
    fields.maxExtensions = extensionCeiling;
    fields.extensionsClampedTo = extensionCeiling;
  }
  return fields;
}

/** `max_completion_tokens` bounds thinking + answer (docs/budget-forcing.md); it wins over the older `max_tokens`, as in OpenAI. */
export function maxCompletionTokens(req: ChatRequest): number | null {
  return req.max_completion_tokens ?? req.max_tokens ?? null;
}

function effortPreset(req: BudgetRequest, policy: ModelPolicy): BudgetPreset {
  const effort = req.reasoning_effort;
  if (effort === undefined) return {};
  return policy.profile.effort[effort] ?? (effort === 'none' ? NONE_EFFORT_FALLBACK : {});
}

/** M from the request, through whichever alias carried it; undefined when none did. */
function explicitMaxThinking(req: BudgetRequest): { param: string; value: number } | undefined {
  const thinking = req.thinking;
  const spellings: Array<[param: string, value: number | null | undefined]> = [
    ['max_thinking_tokens', req.max_thinking_tokens],
    ['thinking_token_budget', req.thinking_token_budget],
    ['thinking.budget_tokens', thinking?.budget_tokens],
    ['thinking.type', thinking?.type === 'disabled' ? 0 : undefined],
  ];
  let found: [string, number] | undefined;
  for (const [param, value] of spellings) {
    if (value === undefined || value === null) continue;
    if (found === undefined) {
      found = [param, value];
    } else if (found[1] !== value) {
      throw new InvalidRequestError(
        `${param} (${describe(param, value)}) conflicts with ${found[0]} (${describe(found[0], found[1])}); send one of them.`,
        { param, code: 'invalid_value' },
      );
    }
  }
  return found === undefined ? undefined : { param: found[0], value: found[1] };
}

function describe(param: string, value: number): string {
  return param === 'thinking.type' ? '"disabled", i.e. 0' : String(value);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
