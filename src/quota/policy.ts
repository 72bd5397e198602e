/**
 * A named API key's policy (config `auth.keys`, docs/configuration.md "Named keys"): plain data,
 * read by http/auth.ts (which key matched) and quota/governor.ts (what the key may spend).
 */

/** Quota windows: fixed, aligned to the epoch (a minute window resets at :00), so every pod agrees on them. */
export const QUOTA_WINDOWS = ['minute', 'hour', 'day'] as const;
export type QuotaWindow = (typeof QUOTA_WINDOWS)[number];

/** The config's `quota` section (docs/configuration.md): where quotas and request rates are kept. */
export interface QuotaSettings {
  /** Shared through Redis when set; in this process only when not. */
  redisUrl?: string;
  onRedisError: 'open' | 'closed';
  redisTimeoutMs: number;
  chargeEveryTokens: number;
  redisPrefix: string;
}
export const WINDOW_MS: Readonly<Record<QuotaWindow, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export type OnQuotaExhausted = 'refuse' | 'degrade';

/** The most named keys a config may hold, and the longest name: names become metric labels. */
export const MAX_NAMED_KEYS = 10_000;
export const MAX_KEY_NAME_LENGTH = 64;
/** Names are label values and Redis key parts: a conservative alphabet, no `:` or spaces. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** The label of every request that matched no named key (plain `auth.api_keys`, or auth off). */
export const UNNAMED_KEY = '_unnamed';

export interface KeyPolicy {
  name: string;
  /** SHA-256 of the key, hex (a string: the config is deep-frozen, a Buffer cannot be): auth compares digests. */
  sha256: string;
  /** Ceiling on a request's M: a larger (or absent) M is clamped to it. */
  maxThinkingTokens?: number;
  /** Ceiling on `n`: a larger n is refused (400, param `n`). */
  maxN?: number;
  /** Thinking tokens per window; absent windows are unlimited. */
  thinkingQuota: Partial<Record<QuotaWindow, number>>;
  /** Requests per minute (a fixed one-minute window, shared through Redis like the quota). */
  requestsPerMinute?: number;
  onQuotaExhausted: OnQuotaExhausted;
}

/** The windows a policy limits, in QUOTA_WINDOWS order. */
export function quotaWindows(p: KeyPolicy): QuotaWindow[] {
  return QUOTA_WINDOWS.filter((w) => p.thinkingQuota[w] !== undefined);
}
