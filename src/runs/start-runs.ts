/**
 * Starts engine runs on a replica and pulls them up to their first token. Until that token
 * nothing has reached the client, so a failed upstream (refused, 5xx, no first token in time) is
 * retried on another replica with backoff, a bounded number of times. After it, never: the client
 * has seen part of an answer that another replica would not continue token for token.
 *
 * What runs is the caller's plan: one run per chat choice (chat.ts), one per prompt and
 * sample of a /v1/completions batch (completion.ts). All runs of a request share the
 * replica (docs/budget-forcing.md: its prefix cache holds their common prompt).
 */
import type { AppContext } from '../app-context.js';
import type { Backend } from '../engine/backend.js';
import { runBudgetForcing } from '../engine/run-budget-forcing.js';
import type { EngineEvent, EngineInput, ThinkingClampReason } from '../engine/types.js';
import type { ProfileResolver } from '../engine/resolve-profile.js';
import type { Config } from '../config/index.js';
import type { ProfileRegistry } from '../profiles/registry.js';
import { onReplica } from '../replicas/on-replica.js';
import type { UpstreamLease } from '../replicas/upstream-pool.js';
import { mergeChoices, type IndexedEvent } from './merge-choices.js';
import { UpstreamAllowance, meteredBackend } from './upstream-allowance.js';

export interface StartedRuns {
  lease: UpstreamLease;
  /** One engine input per run, in choice-index order. */
  inputs: EngineInput[];
  /** Events pulled while starting (segment/usage events and the first renderable one). */
  first: IndexedEvent[];
  rest: AsyncGenerator<IndexedEvent, void>;
}

/** What preparing a request's runs reads of the app (AppContext has it). */
export interface PrepareDeps {
  config: Config;
  registry: ProfileRegistry;
  resolver: ProfileResolver;
}

/** Builds the runs' inputs on the chosen replica (tokenize, resolve the profile). Runs before the first byte. */
export type RunPlan = (backend: Backend, signal: AbortSignal) => Promise<EngineInput[]>;

/** A named key's ceiling on each run's M, and why (quota/governor.ts). */
export interface ThinkingCap {
  tokens: number;
  by: ThinkingClampReason;
}

/**
 * Lowers each run's M to `cap` (an absent M, unbounded, too), and m with it (m <= M), recording
 * the clamp for `budget_forcing` (docs/api.md, "Named keys"). Clamped, not refused: like the
 * extension ceiling, a key's cap means "at most this much thinking", and the response says so.
 */
export function applyThinkingCap(inputs: EngineInput[], cap: ThinkingCap | undefined): EngineInput[] {
  if (cap === undefined) return inputs;
  return inputs.map((input) => {
    const b = input.budget;
    if (b.maxThinkingTokens !== null && b.maxThinkingTokens <= cap.tokens) return input;
    return {
      ...input,
      budget: {
        ...b,
        maxThinkingTokens: cap.tokens,
        minThinkingTokens: Math.min(b.minThinkingTokens, cap.tokens),
        maxThinkingClampedTo: cap.tokens,
        maxThinkingClampedBy: cap.by,
      },
    };
  });
}

/**
 * The operator's `response.max_tokens_per_chunk`: each run's segments may merge one upstream
 * read's deltas up to it (backends/coalesce.ts; the engine leaves it off with stop strings).
 */
function withCoalescing(inputs: EngineInput[], maxTokensPerChunk: number): EngineInput[] {
  if (maxTokensPerChunk <= 1) return inputs;
  return inputs.map((input) => ({ ...input, coalesceTokens: maxTokensPerChunk }));
}

/**
 * Watches a request's runs from outside the engine (tracing/request-trace.ts): each attempt on a
 * replica, and each run's upstream calls and events.
 */
export interface RunsObserver {
  /** Attempt `n` (0 = the first; more = a retry on another replica) starts on `upstream`. */
  attempt(upstream: string, n: number): void;
  run(index: number, backend: Backend): { backend: Backend; events(run: AsyncGenerator<EngineEvent, void>): AsyncGenerator<EngineEvent, void> };
}

/** What the request brings to its runs besides its plan. */
export interface RunOptions {
  /** The named key's ceiling on each run's M. */
  cap?: ThinkingCap | undefined;
  /** The request's trace, when tracing is on. */
  observer?: RunsObserver | undefined;
  /** No merged deltas (a quota meter counts between events: quota/governor.ts, Grant.chargesQuota). */
  unmerged?: boolean | undefined;
}

export async function startRuns(
  ctx: AppContext,
  signal: AbortSignal,
  plan: RunPlan,
  affinity?: string,
  opts: RunOptions = {},
): Promise<StartedRuns> {
  // One allowance per request: bytes sent to a replica that failed count too.
  const allowance = new UpstreamAllowance(ctx.config.limits.maxUpstreamBytesPerRequest);
  const { observer } = opts;
  let attempts = 0;
  const { lease, value } = await onReplica(ctx, signal, affinity, async (backend) => {
    observer?.attempt(backend.name, attempts++);
    const inputs = withCoalescing(applyThinkingCap(await plan(backend, signal), opts.cap), opts.unmerged === true ? 1 : ctx.config.maxTokensPerChunk);
    allowance.checkFirstSegments(inputs);
    const metered = meteredBackend(backend, allowance);
    const run = (input: EngineInput, i: number): AsyncGenerator<EngineEvent, void> => {
      if (observer === undefined) return runBudgetForcing(input, metered, signal);
      const watched = observer.run(i, metered);
      return watched.events(runBudgetForcing(input, watched.backend, signal));
    };
    const rest = mergeChoices(inputs.map(run));
    const first: IndexedEvent[] = [];
    for (;;) {
      const r = await rest.next();
      if (r.done) break;
      first.push(r.value);
      // Until the first event that came from the upstream: segment starts, usage, and the
      // delimiters thinkgate inserts itself (a completions transcript opens thinking before any
      // upstream call) reach no client yet, so a replica failure until then is still retried.
      const t = r.value.ev.type;
      if (t !== 'segment' && t !== 'usage' && t !== 'delimiter') break;
    }
    return { inputs, first, rest };
  });
  return { lease, ...value };
}
