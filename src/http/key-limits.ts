/**
 * Optional per-API-key concurrency (config `limits.per_key_max_concurrent`): one tenant's batch
 * job cannot take every slot of the shared limiter. Past the limit the request gets 429 at once
 * (the tenant is the one to slow down, not the queue). Callers are told apart by the id http/auth.ts
 * gives the request (the matched configured key, never a raw bearer value, so with keys set an
 * anonymous caller cannot mint slots of its own), and forgotten when their count returns to 0,
 * so the map stays as small as the set of active keys.
 *
 * Counted by weight, as the limiter is (http/limiter.ts): a request of w runs counts w. A weight
 * above the limit is clamped to it, so such a request is admitted only when the key has
 * nothing else running (429 otherwise, like any request past the limit).
 */
import { RateLimitError } from '../errors.js';
import type { Release } from './limiter.js';

export class KeyLimits {
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxPerKey: number) {}

  get enabled(): boolean {
    return this.maxPerKey > 0;
  }

  /** `id`: the request's apiKeyId (http/auth.ts); `weight`: its runs. */
  acquire(id: string, weight = 1): Release {
    if (!this.enabled) return () => undefined;
    const w = Math.min(Math.max(1, Math.ceil(weight)), this.maxPerKey);
    const n = this.counts.get(id) ?? 0;
    if (n + w > this.maxPerKey) {
      throw new RateLimitError(`Too many concurrent requests for this API key (limit ${this.maxPerKey}).`, 1);
    }
    this.counts.set(id, n + w);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(id) ?? w) - w;
      if (left <= 0) this.counts.delete(id);
      else this.counts.set(id, left);
    };
  }
}
