/**
 * Where per-key counters live: this process (memory-store.ts) or a Redis every pod shares
 * (redis-store.ts). Same interface, same tests (test/unit/quota-store.test.ts runs both).
 *
 * Counters are fixed windows aligned to the epoch (a `minute` window is [12:03:00, 12:04:00)),
 * so every pod computes the same window, and a key in Redis is named after its window and
 * expires after it: nothing needs cleaning up.
 */
import { WINDOW_MS, type QuotaWindow } from './policy.js';

export interface Admission {
  /** The request was counted in the key's request-rate window (false: the rate is spent, nothing counted). */
  rateOk: boolean;
  /** Requests in the current rate window, this one included when counted. */
  rateCount: number;
  /** Thinking tokens charged in each asked window, in the order asked. */
  used: number[];
}

export interface QuotaStore {
  /**
   * One atomic step: counts a request in `name`'s rate window unless `rateLimit` requests are
   * already there (`rateLimit` 0: no rate), and reads the usage of `windows`.
   */
  admit(name: string, nowMs: number, rateLimit: number, windows: readonly QuotaWindow[]): Promise<Admission>;
  /**
   * Adds `tokens` to each of `windows` atomically; returns their usage afterwards, in order.
   * `once` makes a retry safe: a call that timed out may still have been applied, so the caller
   * sends the same chunk again with the same `{meter, seq}`, and a store applies a meter's seq at
   * most once (seqs of one meter only grow: its charges are sequential).
   */
  charge(name: string, nowMs: number, windows: readonly QuotaWindow[], tokens: number, once?: ChargeOnce): Promise<number[]>;
  close(): Promise<void>;
}

/** One request meter's charge number: `meter` is unique per request, `seq` counts its charges from 1. */
export interface ChargeOnce {
  meter: string;
  seq: number;
}

/** How long a meter's last applied seq is remembered (a retry comes at the meter's next charge, seconds later). */
export const CHARGE_ONCE_TTL_MS = 600_000;

/** The request-rate window (requests_per_minute). */
export const RATE_WINDOW: QuotaWindow = 'minute';

/** The window holding `nowMs`: its number and its end (ms since the epoch). */
export function windowOf(window: QuotaWindow, nowMs: number): { id: number; endMs: number } {
  const len = WINDOW_MS[window];
  const id = Math.floor(nowMs / len);
  return { id, endMs: (id + 1) * len };
}

/** How long a window's counter is kept: to its end, plus a minute for pods whose clocks run late. */
export function ttlMs(window: QuotaWindow, nowMs: number): number {
  return windowOf(window, nowMs).endMs - nowMs + 60_000;
}

/**
 * Counter names: the key's name in braces (a Redis Cluster hash tag, so one request's counters
 * share a slot and one script may touch them all), then the window and its number.
 */
export const quotaKey = (prefix: string, name: string, w: QuotaWindow, nowMs: number) =>
  `${prefix}q:{${name}}:${w}:${windowOf(w, nowMs).id}`;
export const onceKey = (prefix: string, name: string, meter: string) => `${prefix}m:{${name}}:${meter}`;
export const rateKey = (prefix: string, name: string, nowMs: number) => `${prefix}r:{${name}}:${windowOf(RATE_WINDOW, nowMs).id}`;
