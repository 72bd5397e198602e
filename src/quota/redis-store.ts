/**
 * Counters in Redis (config `quota.redis_url`), shared by every pod. Each step is one Lua script
 * (EVALSHA, and EVAL when a restarted Redis lost its script cache: ioredis's defineCommand), so
 * a check-and-count or a charge over several windows is atomic however many pods race.
 *
 * Client: ioredis, chosen over node-redis for its one small package (5 dependencies, types
 * built in, against node-redis's module family) and the three options a gateway needs in the
 * request path: `commandTimeout` (a hung Redis fails a call after quota.redis_timeout_ms instead
 * of holding requests), `maxRetriesPerRequest: 0` (a call is never resent after a dropped
 * connection) and a reconnect loop of its own (recovery without a restart). Before the first
 * connection a call waits for it (within the timeout); after it, while disconnected, a call
 * fails at once rather than queue behind a dead socket. Failures are the governor's to handle (fail open or closed, quota/governor.ts).
 *
 * A reply is checked before use: a Redis (or something squatting on its port) that answers
 * garbage makes the call fail like a dead Redis, never a NaN quota.
 */
import { Redis } from 'ioredis';
import type { QuotaWindow } from './policy.js';
import { type Admission, type ChargeOnce, CHARGE_ONCE_TTL_MS, type QuotaStore, onceKey, quotaKey, rateKey, ttlMs } from './store.js';

/** KEYS[1] rate counter, KEYS[2..] quota counters; ARGV[1] rate limit (0 = none), ARGV[2] its ttl (ms). */
const ADMIT = `
local out = {1, 0}
local rate = tonumber(ARGV[1])
if rate > 0 then
  local c = tonumber(redis.call('GET', KEYS[1]) or '0')
  if c >= rate then
    out[1] = 0
    out[2] = c
  else
    c = redis.call('INCR', KEYS[1])
    if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    out[2] = c
  end
end
for i = 2, #KEYS do out[#out + 1] = tonumber(redis.call('GET', KEYS[i]) or '0') end
return out`;

/**
 * KEYS[1..n] quota counters, KEYS[n + 1] the meter's last applied seq; ARGV[1] tokens, ARGV[2]
 * the seq (0: no dedupe), ARGV[3] its ttl, ARGV[3 + i] the ttl (ms) of KEYS[i]. A seq already
 * applied (a retry of a call that timed out after Redis ran it) changes nothing.
 */
const CHARGE = `
local n = #KEYS - 1
local out = {}
local seq = tonumber(ARGV[2])
if seq > 0 then
  local last = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
  if last >= seq then
    for i = 1, n do out[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
    return out
  end
  redis.call('SET', KEYS[n + 1], seq, 'PX', ARGV[3])
end
for i = 1, n do
  out[i] = redis.call('INCRBY', KEYS[i], ARGV[1])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[i + 3]) end
end
return out`;

type Script = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  /** Deadline of one call, and of connecting. */
  timeoutMs: number;
  /** Connection errors (the governor logs store failures itself; this sees the socket's). */
  onConnectionError?: (err: Error) => void;
}

export class RedisQuotaStore implements QuotaStore {
  private readonly redis: Redis;
  private readonly admitScript: Script;
  private readonly chargeScript: Script;
  private wasReady = false;

  constructor(private readonly opts: RedisStoreOptions) {
    this.redis = new Redis(opts.url, {
      commandTimeout: opts.timeoutMs,
      connectTimeout: Math.max(opts.timeoutMs, 1000),
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      // Reconnect forever, backing off to 2 s: Redis coming back is picked up without a restart.
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      lazyConnect: false,
    });
    this.redis.on('error', (err: Error) => opts.onConnectionError?.(err));
    this.redis.once('ready', () => (this.wasReady = true));
    this.redis.defineCommand('thinkgateAdmit', { lua: ADMIT });
    this.redis.defineCommand('thinkgateCharge', { lua: CHARGE });
    const r = this.redis as unknown as Record<string, Script>;
    this.admitScript = r['thinkgateAdmit']!.bind(this.redis);
    this.chargeScript = r['thinkgateCharge']!.bind(this.redis);
  }

  async admit(name: string, nowMs: number, rateLimit: number, windows: readonly QuotaWindow[]): Promise<Admission> {
    this.checkConnected();
    const keys = [rateKey(this.opts.prefix, name, nowMs), ...windows.map((w) => quotaKey(this.opts.prefix, name, w, nowMs))];
    const reply = await this.admitScript(keys.length, ...keys, rateLimit, ttlMs('minute', nowMs));
    const ints = integers(reply, 2 + windows.length);
    return { rateOk: ints[0] === 1, rateCount: ints[1]!, used: ints.slice(2) };
  }

  async charge(name: string, nowMs: number, windows: readonly QuotaWindow[], tokens: number, once?: ChargeOnce): Promise<number[]> {
    if (windows.length === 0) return [];
    this.checkConnected();
    const keys = [...windows.map((w) => quotaKey(this.opts.prefix, name, w, nowMs)), onceKey(this.opts.prefix, name, once?.meter ?? '-')];
    const ttls = windows.map((w) => ttlMs(w, nowMs));
    const reply = await this.chargeScript(keys.length, ...keys, tokens, once?.seq ?? 0, CHARGE_ONCE_TTL_MS, ...ttls);
    return integers(reply, windows.length);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  /** Once connected, a dropped connection fails calls at once (the reconnect loop runs meanwhile). */
  private checkConnected(): void {
    if (this.wasReady && this.redis.status !== 'ready') throw new Error(`Redis is not connected (${this.redis.status})`);
  }
}

/** The script's reply as `n` non-negative safe integers, or an error (garbage from the server). */
function integers(reply: unknown, n: number): number[] {
  if (!Array.isArray(reply) || reply.length !== n || !reply.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) {
    throw new Error(`unexpected reply from Redis: ${JSON.stringify(reply)?.slice(0, 200)}`);
  }
  return reply as number[];
}
