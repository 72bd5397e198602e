/**
 * Engine usage -> the OpenAI `usage` object, shared by the non-stream builder and the
 * stream renderer so both report exactly the same numbers (docs/api.md).
 */
import type { BudgetForcingSummary, Usage } from '../engine/types.js';
import type { ChatCompletionUsage } from './types.js';

export function toChatUsage(u: Usage): ChatCompletionUsage {
  const out: ChatCompletionUsage = {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.total_tokens,
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens },
  };
  // Only when the engine reported it: a 0 we made up would read as "cache missed".
  if (u.cached_tokens !== undefined) out.prompt_tokens_details = { cached_tokens: u.cached_tokens };
  // Early exit: the probes' tokens, apart (not in completion_tokens: they are not the answer's).
  if (u.probe_tokens !== undefined) out.probe_tokens = u.probe_tokens;
  return out;
}

/**
 * Totals over several choices (n > 1): the prompt is counted once (docs/budget-forcing.md, as OpenAI does),
 * completion-side numbers add up.
 */
export function sumUsage(parts: readonly Usage[]): Usage {
  const first = parts[0];
  if (first === undefined) {
    return { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, reasoning_tokens: 0, answer_tokens: 0 };
  }
  if (parts.length === 1) return first;
  let completion = 0;
  let reasoning = 0;
  let answer = 0;
  let cached: number | undefined;
  let probes: number | undefined;
  for (const p of parts) {
    if (p.probe_tokens !== undefined) probes = (probes ?? 0) + p.probe_tokens;
    completion += p.completion_tokens;
    reasoning += p.reasoning_tokens;
    answer += p.answer_tokens;
    // Like the engine's own figure: a sum over every upstream call.
    if (p.cached_tokens !== undefined) cached = (cached ?? 0) + p.cached_tokens;
  }
  const out: Usage = {
    prompt_tokens: first.prompt_tokens,
    completion_tokens: completion,
    total_tokens: first.prompt_tokens + completion,
    reasoning_tokens: reasoning,
    answer_tokens: answer,
  };
  if (cached !== undefined) out.cached_tokens = cached;
  if (probes !== undefined) out.probe_tokens = probes;
  return out;
}

/** Budget-forcing totals over several choices: counts add up, truncated if any choice was. */
export function sumBudgetForcing(parts: readonly BudgetForcingSummary[]): BudgetForcingSummary {
  const first = parts[0];
  if (first !== undefined && parts.length === 1) return first;
  const out: BudgetForcingSummary = { thinking_tokens: 0, extensions: 0, truncated: false, segments: 0 };
  for (const p of parts) {
    out.thinking_tokens += p.thinking_tokens;
    out.extensions += p.extensions;
    out.truncated ||= p.truncated;
    out.segments += p.segments;
    if (p.extensions_clamped_to !== undefined) out.extensions_clamped_to = p.extensions_clamped_to;
    if (p.max_thinking_tokens_clamped_to !== undefined) {
      out.max_thinking_tokens_clamped_to = p.max_thinking_tokens_clamped_to;
      out.max_thinking_tokens_clamped_by = p.max_thinking_tokens_clamped_by!;
    }
    if (p.segment_limit_reached === true) out.segment_limit_reached = true;
    if (p.early_exit !== undefined) {
      const e = (out.early_exit ??= { probes: 0, probe_tokens: 0, exited_at: null, answers: [] });
      e.probes += p.early_exit.probes;
      e.probe_tokens += p.early_exit.probe_tokens;
      // Per choice: exited_at and answers are reported on each choice; the sum keeps the first's.
      if (e.exited_at === null) e.exited_at = p.early_exit.exited_at;
      if (e.answers.length === 0) e.answers = [...p.early_exit.answers];
    }
    // The same ban on every choice: reported once, not summed.
    if (p.reflection_ids_banned !== undefined) out.reflection_ids_banned = p.reflection_ids_banned;
    // Every choice continues the same prefill (one prompt): reported once, not summed.
    if (p.prefill !== undefined) out.prefill = p.prefill;
  }
  return out;
}

/**
 * Totals over several prompts (a /v1/completions batch), each already summed over its own
 * samples with sumUsage: here every number adds up, prompts included (vLLM's batch usage).
 */
export function addUsage(parts: readonly Usage[]): Usage {
  if (parts.length === 1) return parts[0]!;
  const out: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, reasoning_tokens: 0, answer_tokens: 0 };
  let cached: number | undefined;
  for (const p of parts) {
    out.prompt_tokens += p.prompt_tokens;
    out.completion_tokens += p.completion_tokens;
    out.total_tokens += p.total_tokens;
    out.reasoning_tokens += p.reasoning_tokens;
    out.answer_tokens += p.answer_tokens;
    if (p.cached_tokens !== undefined) cached = (cached ?? 0) + p.cached_tokens;
  }
  if (cached !== undefined) out.cached_tokens = cached;
  return out;
}

/** The usage of a batch of `prompts` x `n` choices, in choice order (index = prompt * n + sample). */
export function batchUsage(usages: readonly (Usage | undefined)[], n: number): Usage {
  const perPrompt: Usage[] = [];
  for (let i = 0; i < usages.length; i += n) {
    const samples = usages.slice(i, i + n).filter((u): u is Usage => u !== undefined);
    if (samples.length > 0) perPrompt.push(sumUsage(samples));
  }
  return perPrompt.length === 0 ? sumUsage([]) : addUsage(perPrompt);
}
