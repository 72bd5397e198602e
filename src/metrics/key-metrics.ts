/**
 * Per-key series (docs/metrics.md, "Per key"): what each named API key (config `auth.keys`)
 * spends. The `key` label is a configured name or `_unnamed` (plain `auth.api_keys`, or auth
 * off), never a bearer value or anything a client chooses, so the series are bounded by the
 * config (at most MAX_NAMED_KEYS names of at most 64 characters, quota/policy.ts).
 *
 * Quota gauges are what this pod last read or charged of the shared counter (Redis or memory):
 * with several pods, `max by (key, window)` is the key's usage, which the "near its quota"
 * alert (deploy/prometheus/rules.yaml) compares with the limit.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type KeyRefusal = 'thinking_quota' | 'request_rate' | 'max_n' | 'store_unavailable';
export type StoreOp = 'admit' | 'charge';

export interface KeyMetrics {
  request(key: string, status: number): void;
  tokens(key: string, thinking: number, answer: number): void;
  refused(key: string, reason: KeyRefusal): void;
  /** The key's usage of a window's quota, as last seen, and its limit. */
  /** `window`: a quota window's name (quota/policy.ts QUOTA_WINDOWS: minute, hour, day), a bounded label. */
  quotaUsed(key: string, window: string, used: number, limit: number): void;
  /** A quota store call failed (Redis down, slow or answering garbage); `up` tracks the store's state. */
  storeError(op: StoreOp): void;
  storeUp(up: boolean): void;
}

export function createKeyMetrics(registry: Registry): KeyMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'thinkgate_key_requests_total',
    help: 'Requests by named API key (auth.keys; `_unnamed` for the rest) and final HTTP status.',
    labelNames: ['key', 'code'],
    registers,
  });
  const thinking = new Counter({
    name: 'thinkgate_key_thinking_tokens_total',
    help: 'Thinking tokens generated for a named API key, every choice and sample counted (what its quota charges).',
    labelNames: ['key'],
    registers,
  });
  const answer = new Counter({
    name: 'thinkgate_key_answer_tokens_total',
    help: 'Answer tokens generated for a named API key, every choice and sample counted.',
    labelNames: ['key'],
    registers,
  });
  const refusals = new Counter({
    name: 'thinkgate_key_quota_refusals_total',
    help: 'Requests refused or cut by a named key policy, by reason (thinking_quota, request_rate, max_n, store_unavailable).',
    labelNames: ['key', 'reason'],
    registers,
  });
  const used = new Gauge({
    name: 'thinkgate_key_thinking_quota_used_tokens',
    help: "Thinking tokens charged in a key's current quota window, as this pod last saw the shared counter.",
    labelNames: ['key', 'window'],
    registers,
  });
  const limit = new Gauge({
    name: 'thinkgate_key_thinking_quota_limit_tokens',
    help: "A key's thinking quota per window (auth.keys[].thinking_quota).",
    labelNames: ['key', 'window'],
    registers,
  });
  const storeErrors = new Counter({
    name: 'thinkgate_quota_store_errors_total',
    help: 'Failed calls to the quota store (Redis down, past quota.redis_timeout_ms, or answering garbage), by operation.',
    labelNames: ['op'],
    registers,
  });
  const storeUp = new Gauge({
    name: 'thinkgate_quota_store_up',
    help: '1 while the last call to the quota store succeeded, 0 after a failure (quota.on_redis_error applies).',
    registers,
  });
  storeUp.set(1);
  for (const op of ['admit', 'charge'] as const) storeErrors.inc({ op }, 0);
  return {
    request: (key, status) => requests.inc({ key, code: String(status) }),
    tokens(key, t, a) {
      if (t > 0) thinking.inc({ key }, t);
      if (a > 0) answer.inc({ key }, a);
    },
    refused: (key, reason) => refusals.inc({ key, reason }),
    quotaUsed(key, window, u, l) {
      used.set({ key, window }, u);
      limit.set({ key, window }, l);
    },
    storeError: (op) => storeErrors.inc({ op }),
    storeUp: (up) => storeUp.set(up ? 1 : 0),
  };
}
