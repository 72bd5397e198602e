/** Named-key quotas (issue 17): the governor over the store the config picks. */
import type { KeyMetrics } from '../metrics/key-metrics.js';
import { QuotaGovernor, type QuotaLog } from './governor.js';
import { MemoryQuotaStore } from './memory-store.js';
import { RedisQuotaStore } from './redis-store.js';
import type { QuotaStore } from './store.js';
import type { QuotaSettings } from './policy.js';

export { QuotaGovernor, type Grant } from './governor.js';
export type { QuotaStore } from './store.js';

/** Redis when `quota.redis_url` is set (and no store is injected), else this process's memory. */
export function createQuotaGovernor(
  q: QuotaSettings,
  deps: { metrics: KeyMetrics; log: QuotaLog; now: () => number; store?: QuotaStore },
): QuotaGovernor {
  const store =
    deps.store ??
    (q.redisUrl !== undefined
      ? new RedisQuotaStore({ url: q.redisUrl, prefix: q.redisPrefix, timeoutMs: q.redisTimeoutMs, onConnectionError: connectionLogger(deps.log) })
      : new MemoryQuotaStore());
  return new QuotaGovernor(store, { onStoreError: q.onRedisError, chargeEveryTokens: q.chargeEveryTokens, now: deps.now, log: deps.log, metrics: deps.metrics });
}

/** ioredis retries a dead Redis every ≤ 2 s and reports each failure: log the first of a run only. */
function connectionLogger(log: QuotaLog): (err: Error) => void {
  let last = '';
  return (err) => {
    if (err.message === last) return;
    last = err.message;
    log.warn({ err: err.message }, 'quota store connection error');
  };
}
