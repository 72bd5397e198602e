/**
 * Counters in this process (no `quota.redis_url`): right for one pod, wrong as soon as there are
 * two (docs/configuration.md says so). JavaScript runs one step at a time, so each method is
 * atomic as the Redis scripts are. Expired windows are swept as time passes: the map holds at
 * most the current windows of the keys in use (names are bounded by the config).
 */
import type { QuotaWindow } from './policy.js';
import { type Admission, type ChargeOnce, CHARGE_ONCE_TTL_MS, type QuotaStore, onceKey, quotaKey, rateKey, ttlMs } from './store.js';

export class MemoryQuotaStore implements QuotaStore {
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private nextSweep = 0;

  async admit(name: string, nowMs: number, rateLimit: number, windows: readonly QuotaWindow[]): Promise<Admission> {
    this.sweep(nowMs);
    let rateOk = true;
    let rateCount = 0;
    if (rateLimit > 0) {
      const k = rateKey('', name, nowMs);
      rateCount = this.get(k);
      rateOk = rateCount < rateLimit;
      if (rateOk) rateCount = this.add(k, 1, nowMs + ttlMs('minute', nowMs));
    }
    return { rateOk, rateCount, used: windows.map((w) => this.get(quotaKey('', name, w, nowMs))) };
  }

  async charge(name: string, nowMs: number, windows: readonly QuotaWindow[], tokens: number, once?: ChargeOnce): Promise<number[]> {
    this.sweep(nowMs);
    if (once !== undefined) {
      // A call here never fails half-way, so a repeat does not happen; kept for parity with Redis.
      const k = onceKey('', name, once.meter);
      if (this.get(k) >= once.seq) return windows.map((w) => this.get(quotaKey('', name, w, nowMs)));
      this.counters.set(k, { value: once.seq, expiresAt: nowMs + CHARGE_ONCE_TTL_MS });
    }
    return windows.map((w) => this.add(quotaKey('', name, w, nowMs), tokens, nowMs + ttlMs(w, nowMs)));
  }

  async close(): Promise<void> {
    this.counters.clear();
  }

  private get(k: string): number {
    return this.counters.get(k)?.value ?? 0;
  }

  private add(k: string, n: number, expiresAt: number): number {
    const c = this.counters.get(k);
    if (c === undefined) {
      this.counters.set(k, { value: n, expiresAt });
      return n;
    }
    c.value += n;
    return c.value;
  }

  /** At most once a second: drop counters whose window (and slack) is over. */
  private sweep(nowMs: number): void {
    if (nowMs < this.nextSweep) return;
    this.nextSweep = nowMs + 1000;
    for (const [k, c] of this.counters) if (c.expiresAt <= nowMs) this.counters.delete(k);
  }
}
