/**
 * Answer-convergence early exit (`thinking_early_exit`, issue 16 item 1; docs/budget-forcing.md
 * "Early exit"): Dynasor-CoT (Fu et al., arXiv 2412.20993, "Certaindex") probes the model's answer
 * every k thinking tokens and stops when consecutive probes agree (29% fewer tokens on average at
 * equal accuracy). A probe is a side call on the same replica whose prompt is the thinking so far
 * + the profile's forced close + its answer prefix (`The final answer is \boxed{`), so the prefix
 * cache serves all but a few ids; its answer is read with the sweep tool's boxed grader. The
 * engine (forcing-core.ts) runs the probes at thinking segment boundaries and decides; this file
 * turns the request field and the profile into its EngineInput.earlyExit.
 *
 * `min_confidence` (a logprob, <= 0) adds a confidence gate in the manner of DEER (arXiv
 * 2504.15895): probes then ask for their tokens' logprobs, and agreement also needs the last
 * probe's mean token logprob to reach it; servers without usable logprobs (llama.cpp) refuse it.
 * Probes run between thinking segments (docs/budget-forcing.md says why not beside them).
 */
import type { Backend } from '../engine/backend.js';
import type { EarlyExit } from '../engine/types.js';
import { InvalidRequestError } from '../errors.js';
import { ANSWER_PREFIX, EARLY_EXIT_DEFAULTS, type ResolvedProfile } from '../profiles/profile.js';
import { lastBoxed } from '../sweep/graders.js';

export type EarlyExitField = boolean | { probe_interval_tokens?: number | undefined; agreements?: number | undefined; min_confidence?: number | undefined } | undefined;

/** Refuses what this backend cannot do, before anything is generated. */
export function checkEarlyExit(field: EarlyExitField, backend: Backend): void {
  if (typeof field === 'object' && field.min_confidence !== undefined && backend.tokenLogprobs === false) {
    throw new InvalidRequestError('`thinking_early_exit.min_confidence` needs per-token logprobs, which thinkgate reads from vLLM only.', {
      param: 'thinking_early_exit.min_confidence',
      code: 'unsupported_parameter',
    });
  }
}

/** EngineInput.earlyExit for the request, or undefined when it asks for none. */
export async function earlyExitFor(
  field: EarlyExitField,
  backend: Backend,
  model: string,
  profile: ResolvedProfile,
  signal: AbortSignal,
): Promise<EarlyExit | undefined> {
  if (field === undefined || field === false) return undefined;
  checkEarlyExit(field, backend);
  const own = typeof field === 'object' ? field : {};
  const defaults = { ...EARLY_EXIT_DEFAULTS, ...profile.profile.early_exit };
  const prefix = profile.profile.answer_prefix ?? ANSWER_PREFIX;
  const prefixIds = await backend.tokenize(model, prefix, signal);
  return {
    intervalTokens: own.probe_interval_tokens ?? defaults.probe_interval_tokens,
    agreements: own.agreements ?? defaults.agreements,
    probeIds: [...profile.forcedCloseIds, ...prefixIds],
    probeMaxTokens: defaults.probe_max_tokens,
    ...(own.min_confidence !== undefined ? { minConfidence: own.min_confidence } : {}),
    // The probe's text continues the prefix: the answer is the last \boxed{} of both together.
    extract: (text) => {
      const boxed = lastBoxed(prefix + text);
      return boxed === null ? null : boxed.trim().replace(/\s+/g, ' ');
    },
  };
}
