/** `auth.keys` and `quota` in the config (issue 17): what loads, and every hostile shape refused with its path. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFromObject } from '../../src/config/index.js';

const UP = ['http://127.0.0.1:8000'];
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
function problems(obj: Record<string, unknown>, env: Record<string, string> = {}): string[] {
  try {
    loadConfigFromObject({ upstreams: UP, ...obj }, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  return [];
}

describe('auth.keys', () => {
  it('loads keys and digests into policies (defaults: refuse, no caps)', () => {
    const c = loadConfigFromObject({
      upstreams: UP,
      auth: { keys: [{ name: 'a', key: 'sk-a' }, { name: 'b.team-1', sha256: sha('sk-b').toUpperCase(), thinking_quota: { hour: 5 }, max_n: 2 }] },
    });
    expect(c.namedKeys).toEqual([
      { name: 'a', sha256: sha('sk-a'), thinkingQuota: {}, onQuotaExhausted: 'refuse' },
      { name: 'b.team-1', sha256: sha('sk-b'), thinkingQuota: { hour: 5 }, maxN: 2, onQuotaExhausted: 'refuse' },
    ]);
    expect(c.quota).toEqual({ onRedisError: 'open', redisTimeoutMs: 250, chargeEveryTokens: 256, redisPrefix: 'thinkgate:' });
  });

  it('refuses each bad entry with its path', () => {
    expect(
      problems({
        auth: {
          api_keys: ['sk-dup'],
          keys: [
            { name: 'both', key: 'x', sha256: sha('x') },
            { name: 'neither' },
            { name: 'has space', key: 'y' },
            { name: 'n'.repeat(65), key: 'z' },
            { name: 'ok', key: 'sk-dup' },
            { name: 'ok', key: 'w' },
            { name: 'short', sha256: 'abc' },
            { name: 'q', key: 'q', thinking_quota: { week: 1 } },
            { name: 'm', key: 'm', on_quota_exhausted: 'block', max_n: 0 },
          ],
        },
      }),
    ).toEqual([
      'auth.keys[2].name: must be letters, digits, _ . - (a metric label)',
      'auth.keys[3].name: must be at most 64 characters',
      'auth.keys[6].sha256: must be 64 hex digits (sha256 of the key)',
      'auth.keys[7].thinking_quota.week: unknown key (known: minute, hour, day)',
      'auth.keys[8].max_n: must be an integer >= 1',
      'auth.keys[8].on_quota_exhausted: must be refuse or degrade',
    ]);
    // Cross-entry checks run once the entries themselves are well-formed.
    expect(
      problems({
        auth: {
          api_keys: ['sk-dup'],
          keys: [{ name: 'both', key: 'x', sha256: sha('x') }, { name: 'neither' }, { name: 'ok', key: 'sk-dup' }, { name: 'ok', key: 'w' }, { name: 'other', sha256: sha('w') }],
        },
      }),
    ).toEqual([
      'auth.keys[0]: needs exactly one of key, sha256',
      'auth.keys[1]: needs exactly one of key, sha256',
      'auth.keys[2]: the same key as another entry of auth.keys or auth.api_keys',
      'auth.keys[3].name: duplicate name ok',
      'auth.keys[4]: the same key as another entry of auth.keys or auth.api_keys',
    ]);
  });

  it('a huge key list is refused as a whole, not processed', () => {
    const keys = Array.from({ length: 10_001 }, (_, i) => ({ name: `k${i}`, key: `sk-${i}` }));
    expect(problems({ auth: { keys } })).toEqual(['auth.keys: must hold at most 10000 keys']);
  });
});

describe('quota', () => {
  it('reads redis_url from the file or THINKGATE_QUOTA_REDIS_URL (which wins)', () => {
    expect(loadConfigFromObject({ upstreams: UP, quota: { redis_url: 'redis://a:6379/0' } }).quota.redisUrl).toBe('redis://a:6379/0');
    expect(
      loadConfigFromObject({ upstreams: UP, quota: { redis_url: 'redis://a:6379/0' } }, { THINKGATE_QUOTA_REDIS_URL: 'rediss://b:6380' }).quota.redisUrl,
    ).toBe('rediss://b:6380');
  });

  it('refuses what is not a Redis URL, and bad values', () => {
    expect(problems({ quota: { redis_url: 'http://a', on_redis_error: 'maybe', redis_timeout_ms: 0, charge_every_tokens: 0 } })).toEqual([
      'quota.redis_url: must be a redis:// or rediss:// URL',
      'quota.on_redis_error: must be open or closed',
      'quota.redis_timeout_ms: must be an integer 1-2147483647',
      'quota.charge_every_tokens: must be an integer >= 1',
    ]);
    expect(problems({}, { THINKGATE_QUOTA_REDIS_URL: 'localhost:6379' })).toEqual(['THINKGATE_QUOTA_REDIS_URL: must be a redis:// or rediss:// URL']);
  });
});

describe('auth over named keys', () => {
  it('10,000 named keys: the matched entry carries its own policy; plain keys carry none', async () => {
    const { createKeyCheck } = await import('../../src/http/auth.js');
    const keys = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? { name: `k${i}`, key: `sk-${i}` } : { name: `k${i}`, sha256: sha(`sk-${i}`) }));
    const c = loadConfigFromObject({ upstreams: UP, auth: { api_keys: ['sk-plain'], keys } });
    const check = createKeyCheck(c.apiKeys, c.namedKeys)!;
    expect(check('sk-9999').policy?.name).toBe('k9999');
    expect(check('sk-0').policy?.name).toBe('k0');
    expect(check('sk-plain').policy).toBeUndefined();
    expect(check('sk-9999').id).not.toBe(check('sk-0').id);
    expect(() => check('sk-10000')).toThrow(/Incorrect API key/);
  });
});
