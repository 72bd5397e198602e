/**
 * What a named API key may spend (config `auth.keys`, docs/configuration.md "Named keys"):
 * admission (cap on n, request rate, thinking quota: refuse or degrade) and metering (thinking
 * tokens charged to the key's quota windows as the stream runs).
 *
 * Where the charge happens: on the request's event stream (serving/serve-runs.ts wraps the one
 * tap), never in the engine, which stays pure. Every `reasoning` event's tokens (each choice,
 * each sample; the same tokens `budget_forcing.thinking_tokens` counts) join a pending sum that
 * is charged at each segment boundary (segment, usage, finish events) and whenever it reaches
 * `quota.charge_every_tokens`. A charge that finds a window spent marks the key spent in this
 * pod until that window's end: the next thinking token of every request of the key here ends
 * it (429 `thinking_quota_exceeded`, an SSE error event after the first byte), so a request
 * overdraws by at most what ran since its last charge, and a fleet by at most that for each
 * request in flight on the other pods (measured: test/integration/quota-redis.test.ts).
 *
 * Degrade mode: a request admitted with R tokens left runs with M capped to R split over its
 * runs (floor(R / runs)), reported in `budget_forcing.max_thinking_tokens_clamped_to/_by`;
 * with nothing left M is 0 (an answer without thinking). Refuse mode: 429 once nothing is left.
 *
 * The store failing (Redis down, past its timeout, answering garbage): `open` admits and keeps
 * the uncharged tokens pending (charged when the store answers again); `closed` refuses with
 * 503 `quota_store_unavailable` (mid-stream too: no unmetered spending). Both count
 * thinkgate_quota_store_errors_total and log one line when the store goes down and one when it
 * is back.
 */
import type { EngineEvent, IndexedEvent, ThinkingClampReason } from '../engine/types.js';
import { InvalidRequestError, KeyLimitError, ServiceUnavailableError } from '../errors.js';
import type { KeyMetrics, StoreOp } from '../metrics/key-metrics.js';
import { type KeyPolicy, type QuotaWindow, UNNAMED_KEY, quotaWindows } from './policy.js';
import { type ChargeOnce, type QuotaStore, windowOf } from './store.js';
import { randomUUID } from 'node:crypto';

export interface QuotaLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface GovernorOptions {
  onStoreError: 'open' | 'closed';
  chargeEveryTokens: number;
  now: () => number;
  log: QuotaLog;
  metrics: KeyMetrics;
}

/** A request's admission: the M cap that applies to each of its runs, and its meter. */
export interface Grant {
  /** The `key` label of its metrics: the policy's name, or `_unnamed`. */
  readonly key: string;
  /** M of each run is at most this (undefined: no cap). */
  readonly thinkingCap?: { tokens: number; by: ThinkingClampReason };
  /**
   * The request's thinking is charged to quota windows: its streams get a chunk per upstream
   * token (no merged deltas, backends/coalesce.ts), so a stream runs at most
   * `charge_every_tokens` past its last charge, never one merged chunk more.
   */
  readonly chargesQuota: boolean;
  /** The request's events, charged to the key as they pass (only needed when `chargesQuota`). */
  meter(events: AsyncGenerator<IndexedEvent, void>): AsyncGenerator<IndexedEvent, void>;
  /**
   * One event, counted in the key's token metrics: all a grant that does not charge does with
   * the events, called by the consumer instead of putting meter() between it and the runs.
   */
  count(ev: EngineEvent): void;
}

export class QuotaGovernor {
  private storeHealthy = true;
  /** Keys a charge found spent, and until when (the spent window's end, ms): bounded by the configured names. */
  private readonly spentUntil = new Map<string, { endMs: number; used: number[] }>();

  constructor(
    private readonly store: QuotaStore,
    private readonly opts: GovernorOptions,
  ) {}

  /**
   * Admits one request of `policy` (undefined: an unnamed key, nothing to enforce) asking for
   * `n` choices per prompt and `runs` engine runs in all. Throws the refusal (400 for n, 429 for
   * rate or quota, 503 when the store is down and fails closed).
   */
  async admit(policy: KeyPolicy | undefined, n: number, runs: number): Promise<Grant> {
    if (policy === undefined) return new Meter(this, UNNAMED_KEY, undefined, []);
    if (policy.maxN !== undefined && n > policy.maxN) {
      this.opts.metrics.refused(policy.name, 'max_n');
      throw new InvalidRequestError(`n (${n}) exceeds this API key's limit of ${policy.maxN}.`, { param: 'n', code: 'invalid_value' });
    }
    const windows = quotaWindows(policy);
    const rate = policy.requestsPerMinute ?? 0;
    let cap: Grant['thinkingCap'] =
      policy.maxThinkingTokens !== undefined ? { tokens: policy.maxThinkingTokens, by: 'key_cap' } : undefined;
    if (rate === 0 && windows.length === 0) return new Meter(this, policy.name, cap, []);
    const now = this.opts.now();
    const a = await this.call('admit', policy.name, () => this.store.admit(policy.name, now, rate, windows));
    if (a === undefined) return new Meter(this, policy.name, cap, windows, policy); // failing open
    if (!a.rateOk) {
      this.opts.metrics.refused(policy.name, 'request_rate');
      const reset = (windowOf('minute', now).endMs - now) / 1000;
      throw new KeyLimitError(`Rate limit reached for this API key: ${rate} requests per minute.`, 'requests', rate, reset);
    }
    let left = Infinity;
    windows.forEach((w, i) => {
      const limit = policy.thinkingQuota[w]!;
      this.opts.metrics.quotaUsed(policy.name, w, a.used[i]!, limit);
      left = Math.min(left, limit - a.used[i]!);
    });
    if (left <= 0 && policy.onQuotaExhausted === 'refuse') throw this.exhausted(policy, a.used, now);
    if (policy.onQuotaExhausted === 'degrade' && left !== Infinity) {
      const share = Math.max(0, Math.floor(left / Math.max(1, runs)));
      if (cap === undefined || share < cap.tokens) cap = { tokens: share, by: 'thinking_quota' };
    }
    return new Meter(this, policy.name, cap, windows, policy);
  }

  /** The 429 of a spent quota: its reset is the latest of the spent windows' (all must reset). */
  exhausted(policy: KeyPolicy, used: readonly number[], now: number): KeyLimitError {
    this.opts.metrics.refused(policy.name, 'thinking_quota');
    let window: QuotaWindow | undefined;
    let endMs = now;
    quotaWindows(policy).forEach((w, i) => {
      const end = windowOf(w, now).endMs;
      if (used[i]! >= policy.thinkingQuota[w]! && end >= endMs) {
        window = w;
        endMs = end;
      }
    });
    const limit = window === undefined ? 0 : policy.thinkingQuota[window]!;
    return new KeyLimitError(
      `This API key's thinking quota (${limit} tokens per ${window ?? 'window'}) is used up; it resets in ${Math.ceil((endMs - now) / 1000)} s.`,
      'tokens',
      limit,
      (endMs - now) / 1000,
    );
  }

  /** The spent usage of `policy` seen by a charge in this pod, while its window lasts; else null. */
  spentNow(policy: KeyPolicy): number[] | null {
    const s = this.spentUntil.get(policy.name);
    if (s === undefined) return null;
    if (this.opts.now() < s.endMs) return s.used;
    this.spentUntil.delete(policy.name);
    return null;
  }

  markSpent(policy: KeyPolicy, used: number[], now: number): void {
    let endMs = now;
    quotaWindows(policy).forEach((w, i) => {
      if (used[i]! >= policy.thinkingQuota[w]!) endMs = Math.max(endMs, windowOf(w, now).endMs);
    });
    this.spentUntil.set(policy.name, { endMs, used });
  }

  /** Charges `tokens` to `policy`'s windows; undefined when the store failed and fails open. */
  charge(policy: KeyPolicy, windows: readonly QuotaWindow[], tokens: number, now: number, once: ChargeOnce): Promise<number[] | undefined> {
    return this.call('charge', policy.name, () => this.store.charge(policy.name, now, windows, tokens, once));
  }

  get metrics(): KeyMetrics {
    return this.opts.metrics;
  }

  get chargeEveryTokens(): number {
    return this.opts.chargeEveryTokens;
  }

  now(): number {
    return this.opts.now();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  private async call<T>(op: StoreOp, key: string, f: () => Promise<T>): Promise<T | undefined> {
    try {
      const v = await f();
      if (!this.storeHealthy) {
        this.storeHealthy = true;
        this.opts.metrics.storeUp(true);
        this.opts.log.info({ op }, 'quota store recovered');
      }
      return v;
    } catch (err) {
      this.opts.metrics.storeError(op);
      if (this.storeHealthy) {
        this.storeHealthy = false;
        this.opts.metrics.storeUp(false);
        this.opts.log.warn({ err, op, mode: this.opts.onStoreError }, `quota store failed; failing ${this.opts.onStoreError}`);
      }
      if (this.opts.onStoreError === 'open') return undefined;
      this.opts.metrics.refused(key, 'store_unavailable');
      throw new ServiceUnavailableError('The quota store is unavailable; retry the request.', { code: 'quota_store_unavailable' });
    }
  }
}

/** One request's meter: per-key token counts, and charges to its quota windows. */
class Meter implements Grant {
  /** Thinking tokens not yet in a chunk. */
  private pending = 0;
  /** The chunk sent and not known to be applied (its call failed): sent again first, same seq. */
  private chunk: { tokens: number; seq: number } | null = null;
  private seq = 0;
  /** Unique per request: the store applies each of its seqs at most once (drawn at the first charge). */
  private id: string | undefined;
  /** Pending tokens at which the next charge is tried (moves on after a failed one). */
  private chargeAt: number;

  constructor(
    private readonly gov: QuotaGovernor,
    readonly key: string,
    readonly thinkingCap: Grant['thinkingCap'],
    private readonly windows: readonly QuotaWindow[],
    private readonly policy?: KeyPolicy,
  ) {
    this.chargeAt = gov.chargeEveryTokens;
  }

  get chargesQuota(): boolean {
    return this.policy !== undefined && this.windows.length > 0;
  }

  async *meter(events: AsyncGenerator<IndexedEvent, void>): AsyncGenerator<IndexedEvent, void> {
    try {
      for await (const e of events) {
        const ev = e.ev;
        if (ev.type === 'reasoning') {
          const spent = this.policy !== undefined && this.windows.length > 0 ? this.gov.spentNow(this.policy) : null;
          if (spent !== null) throw this.gov.exhausted(this.policy!, spent, this.gov.now());
          this.count(ev);
          this.pending += ev.tokens;
          if (this.pending >= this.chargeAt) await this.flush();
        } else if (ev.type === 'content') {
          this.count(ev);
        } else if (ev.type === 'segment' || ev.type === 'usage' || ev.type === 'finish') {
          if (this.pending > 0 || this.chunk !== null) await this.flush();
        }
        yield e;
      }
    } finally {
      // Whatever ran is charged, however the request ended (a store failure here is only
      // counted and logged). for-await has already closed `events`.
      if (this.pending > 0 || this.chunk !== null) await this.flush().catch(() => undefined);
    }
  }

  count(ev: EngineEvent): void {
    if (ev.type === 'reasoning') this.gov.metrics.tokens(this.key, ev.tokens, 0);
    else if (ev.type === 'content') this.gov.metrics.tokens(this.key, 0, ev.tokens);
  }

  /**
   * Charges what is pending. A failed call (failing open) leaves its chunk to be sent again,
   * first, with the same seq: a call that timed out after Redis ran it is not charged twice
   * (store.ts, ChargeOnce). Tokens that arrive meanwhile wait for the next chunk.
   */
  private async flush(): Promise<void> {
    if (this.policy === undefined || this.windows.length === 0) {
      this.pending = 0;
      return;
    }
    for (let i = 0; i < 2 && (this.chunk !== null || this.pending > 0); i++) {
      if (this.chunk === null) {
        this.chunk = { tokens: this.pending, seq: ++this.seq };
        this.pending = 0;
      }
      const now = this.gov.now();
      const used = await this.gov.charge(this.policy, this.windows, this.chunk.tokens, now, { meter: (this.id ??= randomUUID()), seq: this.chunk.seq });
      if (used === undefined) {
        // Failing open: try again after another chargeEvery tokens.
        this.chargeAt = this.pending + this.gov.chargeEveryTokens;
        return;
      }
      this.chunk = null;
      this.chargeAt = this.gov.chargeEveryTokens;
      let spent = false;
      this.windows.forEach((w, i) => {
        const limit = this.policy!.thinkingQuota[w]!;
        this.gov.metrics.quotaUsed(this.policy!.name, w, used[i]!, limit);
        if (used[i]! >= limit) spent = true;
      });
      if (spent) this.gov.markSpent(this.policy, used, now);
    }
  }
}
