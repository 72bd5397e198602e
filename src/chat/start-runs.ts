/**
 * Starts engine runs on a replica and pulls them up to their first token. Until that token
 * nothing has reached the client, so a failed upstream (refused, 5xx, no first token in time) is
 * retried on another replica with backoff, a bounded number of times. After it, never: the client
 * has seen part of an answer that another replica would not continue token for token.
 *
 * What runs is the caller's plan: one run per chat choice (start-chat.ts), one per prompt and
 * sample of a /v1/completions batch (start-completion.ts). All runs of a request share the
 * replica (docs/budget-forcing.md: its prefix cache holds their common prompt).
 */
import type { AppContext } from '../app-context.js';
import type { Backend } from '../engine/backend.js';
import { runBudgetForcing } from '../engine/run-budget-forcing.js';
import type { EngineInput } from '../engine/types.js';
import {
  AbortedError,
  ServiceUnavailableError,
  UpstreamError,
  UpstreamTimeoutError,
  isAbortError,
} from '../errors.js';
import type { UpstreamLease } from '../upstream-pool.js';
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

export interface RetryPolicy {
  /** Further attempts after the first. */
  retries: number;
  /** Backoff before retry k (0-based) is base * 2^k, with full jitter. */
  backoffMs: number;
}

/** Builds the runs' inputs on the chosen replica (tokenize, resolve the profile). Runs before the first byte. */
export type RunPlan = (backend: Backend, signal: AbortSignal) => Promise<EngineInput[]>;

export async function startRuns(ctx: AppContext, signal: AbortSignal, plan: RunPlan, affinity?: string): Promise<StartedRuns> {
  // One allowance per request: bytes sent to a replica that failed count too.
  const allowance = new UpstreamAllowance(ctx.config.limits.maxUpstreamBytesPerRequest);
  const { lease, value } = await onReplica(ctx, signal, affinity, async (backend) => {
    const inputs = await plan(backend, signal);
    allowance.checkFirstSegments(inputs);
    const metered = meteredBackend(backend, allowance);
    const rest = mergeChoices(inputs.map((input) => runBudgetForcing(input, metered, signal)));
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

/**
 * Runs `attempt` on a replica from the pool and returns its value with the lease, which the
 * caller then owns. A failure of the replica (isRetryable) is retried on another one with
 * jittered backoff, up to the retry policy; a refusal also takes the replica out of rotation.
 * Every attempt is counted in the upstream metrics. Shared by budget-forced runs (until their
 * first token) and relayed requests (until the upstream's response headers).
 */
export async function onReplica<T>(
  ctx: AppContext,
  signal: AbortSignal,
  affinity: string | undefined,
  attempt: (backend: Backend) => Promise<T>,
): Promise<{ lease: UpstreamLease; value: T }> {
  const policy = ctx.retry;
  const tried = new Set<Backend>();
  let lastErr: unknown;
  for (let n = 0; ; n++) {
    let lease: UpstreamLease;
    try {
      lease = ctx.pool.acquire(tried, affinity);
    } catch (err) {
      // No replica left to try: the failure that got us here says more than "none healthy".
      throw lastErr ?? err;
    }
    tried.add(lease.backend);
    try {
      const value = await attempt(lease.backend);
      ctx.metrics.upstreamRequest(lease.backend.name, 'ok');
      return { lease, value };
    } catch (err) {
      lease.release();
      if (signal.aborted || isAbortError(err)) throw err instanceof AbortedError ? err : new AbortedError();
      ctx.metrics.upstreamRequest(lease.backend.name, err instanceof UpstreamTimeoutError ? 'timeout' : 'error');
      if (!isRetryable(err) || n >= policy.retries) throw err;
      lastErr = err;
      if (err instanceof UpstreamError && err.code === 'upstream_unreachable') ctx.pool.markUnhealthy(lease.backend);
      ctx.metrics.upstreamRetry(lease.backend.name);
      await sleep(Math.random() * policy.backoffMs * 2 ** n, signal);
    }
  }
}

/**
 * Failures of the replica, not of the request: another replica may well succeed. Timeouts are
 * not retried, except on connect: a replica that took first_token_ms to say nothing would make
 * every retry wait as long again (the client's own timeout is the better judge).
 */
function isRetryable(err: unknown): boolean {
  if (err instanceof UpstreamTimeoutError) return err.code === 'upstream_connect_timeout';
  return err instanceof UpstreamError || err instanceof ServiceUnavailableError;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new AbortedError());
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
