/**
 * One replica-retry loop for everything that talks to an upstream before its first byte:
 * budget-forced runs (until their first token, runs/start-runs.ts) and relays (until the
 * upstream's response headers, serving/relay.ts).
 */
import type { Backend } from '../engine/backend.js';
import { AbortedError, UpstreamError, UpstreamTimeoutError, isAbortError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { isRetryable, type RetryPolicy } from './retry-policy.js';
import type { UpstreamLease, UpstreamPool } from './upstream-pool.js';

/** What the loop needs of the app (AppContext has it): the pool, the policy, the counters. */
export interface ReplicaDeps {
  pool: UpstreamPool;
  retry: RetryPolicy;
  metrics: Pick<Metrics, 'upstreamRequest' | 'upstreamRetry'>;
}

/**
 * Runs `attempt` on a replica from the pool and returns its value with the lease, which the
 * caller then owns. A failure of the replica (isRetryable) is retried on another one with
 * jittered backoff, up to the retry policy; a refusal also takes the replica out of rotation.
 * Every attempt is counted in the upstream metrics. Shared by budget-forced runs (until their
 * first token) and relayed requests (until the upstream's response headers).
 */
export async function onReplica<T>(
  ctx: ReplicaDeps,
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
