/**
 * The two quota stores behave alike (quota/store.ts): the same cases against this process's
 * memory and against a real redis-server (skipped with a message when it is not installed).
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryQuotaStore } from '../../src/quota/memory-store.js';
import { RedisQuotaStore } from '../../src/quota/redis-store.js';
import type { QuotaStore } from '../../src/quota/store.js';
import { redisAvailable, startRedis, type RedisServer } from '../support/redis.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 10); // 10 s into a minute, an hour and a day
const avail = redisAvailable();
if (!avail.ok) console.warn(avail.why);

let redis: RedisServer | undefined;
let n = 0;
beforeAll(async () => {
  if (avail.ok) redis = await startRedis();
});
afterAll(async () => redis?.stop());

type Make = () => QuotaStore;
const stores: Array<[string, Make, boolean]> = [
  ['memory', () => new MemoryQuotaStore(), true],
  ['redis', () => new RedisQuotaStore({ url: redis!.url, prefix: `t${n++}:`, timeoutMs: 2000 }), avail.ok],
];

describe.each(stores)('%s store', (_name, make, enabled) => {
  it.runIf(enabled)('counts requests up to the rate and refuses past it without counting', async () => {
    const s = make();
    try {
      for (let i = 1; i <= 3; i++) expect(await s.admit('a', T0, 3, [])).toEqual({ rateOk: true, rateCount: i, used: [] });
      expect(await s.admit('a', T0, 3, [])).toEqual({ rateOk: false, rateCount: 3, used: [] });
      // Another key, and the next minute, start at zero.
      expect((await s.admit('b', T0, 3, [])).rateCount).toBe(1);
      expect(await s.admit('a', T0 + 50_000, 3, [])).toEqual({ rateOk: true, rateCount: 1, used: [] });
      // Rate 0: nothing counted.
      expect(await s.admit('a', T0, 0, [])).toEqual({ rateOk: true, rateCount: 0, used: [] });
    } finally {
      await s.close();
    }
  });

  it.runIf(enabled)('charges every window at once, each resets at its own boundary', async () => {
    const s = make();
    try {
      expect(await s.charge('a', T0, ['minute', 'hour', 'day'], 100)).toEqual([100, 100, 100]);
      expect(await s.charge('a', T0 + 1000, ['minute', 'day'], 25)).toEqual([125, 125]);
      expect((await s.admit('a', T0, 0, ['minute', 'hour', 'day'])).used).toEqual([125, 100, 125]);
      // Next minute (same hour, same day).
      expect((await s.admit('a', T0 + 60_000, 0, ['minute', 'hour', 'day'])).used).toEqual([0, 100, 125]);
      // Next hour.
      expect((await s.admit('a', T0 + 3_600_000, 0, ['minute', 'hour', 'day'])).used).toEqual([0, 0, 125]);
      expect((await s.admit('other', T0, 0, ['day'])).used).toEqual([0]);
    } finally {
      await s.close();
    }
  });

  it.runIf(enabled)('a repeated {meter, seq} (the retry of a call that timed out after it ran) is applied once', async () => {
    const s = make();
    try {
      expect(await s.charge('d', T0, ['day'], 10, { meter: 'm1', seq: 1 })).toEqual([10]);
      expect(await s.charge('d', T0, ['day'], 10, { meter: 'm1', seq: 1 })).toEqual([10]);
      expect(await s.charge('d', T0, ['day'], 5, { meter: 'm1', seq: 2 })).toEqual([15]);
      expect(await s.charge('d', T0, ['day'], 5, { meter: 'm2', seq: 1 })).toEqual([20]);
      expect(await s.charge('d', T0, ['day'], 1)).toEqual([21]);
    } finally {
      await s.close();
    }
  });

  it.runIf(enabled)('concurrent charges add up exactly', async () => {
    const s = make();
    try {
      await Promise.all(Array.from({ length: 200 }, () => s.charge('c', T0, ['hour'], 7)));
      expect((await s.admit('c', T0, 0, ['hour'])).used).toEqual([1400]);
    } finally {
      await s.close();
    }
  });
});

describe.runIf(avail.ok)('redis store, hostile conditions', () => {
  it('counters expire with their window (TTL set on first write)', async () => {
    const s = new RedisQuotaStore({ url: redis!.url, prefix: 'ttl:', timeoutMs: 2000 });
    try {
      const now = Date.now();
      await s.charge('k', now, ['minute'], 1);
      await s.admit('k', now, 5, []);
      const minute = Math.floor(now / 60_000);
      const qttl = Number((await redis!.command('PTTL', `ttl:q:{k}:minute:${minute}`)).slice(1));
      const rttl = Number((await redis!.command('PTTL', `ttl:r:{k}:${minute}`)).slice(1));
      for (const t of [qttl, rttl]) {
        expect(t).toBeGreaterThan(0);
        expect(t).toBeLessThanOrEqual(120_000);
      }
    } finally {
      await s.close();
    }
  });

  it('a dead Redis fails a call at once; a restarted one is used again without a new store', async () => {
    const s = new RedisQuotaStore({ url: redis!.url, prefix: 'dead:', timeoutMs: 500 });
    try {
      expect(await s.charge('k', T0, ['day'], 5)).toEqual([5]);
      await redis!.stop();
      const t = Date.now();
      await expect(s.charge('k', T0, ['day'], 5)).rejects.toThrow();
      expect(Date.now() - t).toBeLessThan(2000);
      await redis!.start();
      // The reconnect loop backs off to at most 2 s; a fresh Redis has an empty script cache (EVAL fallback).
      const deadline = Date.now() + 10_000;
      let used: number[] | undefined;
      while (used === undefined && Date.now() < deadline) {
        used = await s.charge('k', T0, ['day'], 5).catch(() => undefined);
        if (used === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(used).toEqual([5]); // a fresh Redis: the old counter went with it
    } finally {
      await s.close();
    }
  });
});

describe('redis store against a server that hangs or answers garbage', () => {
  let server: Server;
  let port = 0;
  let mode: 'hang' | 'garbage' = 'hang';
  beforeAll(async () => {
    server = createServer((sock) => {
      sock.on('data', () => {
        // ioredis may send INFO/SELECT first: garbage answers everything with an integer, not an array.
        if (mode === 'garbage') sock.write(':12\r\n');
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('a hung server: the call fails within the timeout, never hangs the request', async () => {
    mode = 'hang';
    const s = new RedisQuotaStore({ url: `redis://127.0.0.1:${port}`, prefix: 'h:', timeoutMs: 200 });
    try {
      const t = Date.now();
      await expect(s.charge('k', T0, ['day'], 1)).rejects.toThrow();
      expect(Date.now() - t).toBeLessThan(3000);
    } finally {
      await s.close();
    }
  });

  it('a server answering garbage: the call fails, never a NaN quota', async () => {
    mode = 'garbage';
    const s = new RedisQuotaStore({ url: `redis://127.0.0.1:${port}`, prefix: 'g:', timeoutMs: 300 });
    try {
      await expect(s.admit('k', T0, 1, ['day'])).rejects.toThrow();
      await expect(s.charge('k', T0, ['day'], 1)).rejects.toThrow();
    } finally {
      await s.close();
    }
  });
});
