import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../src/http/limiter.js';
import { AbortedError, RateLimitError } from '../../src/errors.js';

const limiter = (maxConcurrent: number, maxQueue: number, queueTimeoutMs = 10_000) => {
  const depths: number[] = [];
  const waits: number[] = [];
  const l = new ConcurrencyLimiter({ maxConcurrent, maxQueue, queueTimeoutMs, onQueueDepth: (d) => depths.push(d), onWait: (w) => waits.push(w) });
  return { l, depths, waits };
};

describe('ConcurrencyLimiter', () => {
  it('admits up to the limit, queues FIFO, hands a released slot to the oldest waiter', async () => {
    const { l, depths } = limiter(2, 5);
    const r1 = await l.acquire();
    const r2 = await l.acquire();
    const order: string[] = [];
    const a = l.acquire().then((r) => (order.push('a'), r));
    const b = l.acquire().then((r) => (order.push('b'), r));
    expect([l.running, l.queued]).toEqual([2, 2]);
    r2();
    r2(); // a second release of the same slot changes nothing
    const ra = await a;
    expect([l.running, l.queued, order]).toEqual([2, 1, ['a']]);
    r1();
    const rb = await b;
    expect(order).toEqual(['a', 'b']);
    ra();
    rb();
    expect([l.running, l.queued]).toEqual([0, 0]);
    expect(depths).toEqual([1, 2, 1, 0]);
  });

  it('refuses at once with 429 and Retry-After when the queue is full', async () => {
    const { l } = limiter(1, 1, 8000);
    await l.acquire();
    void l.acquire();
    const err = await l.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).status).toBe(429);
    expect((err as RateLimitError).code).toBe('rate_limit_exceeded');
    expect((err as RateLimitError).headers()).toEqual({ 'retry-after': '2' });
  });

  it('times out a waiter with 429 and frees its queue place', async () => {
    const { l } = limiter(1, 1, 20);
    await l.acquire();
    await expect(l.acquire()).rejects.toBeInstanceOf(RateLimitError);
    expect(l.queued).toBe(0);
  });

  it('drops a waiter whose client left, without taking a slot', async () => {
    const { l } = limiter(1, 3);
    const r = await l.acquire();
    const ctrl = new AbortController();
    const p = l.acquire(ctrl.signal);
    ctrl.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    expect(l.queued).toBe(0);
    r();
    expect(l.running).toBe(0);
  });
});

describe('ConcurrencyLimiter weights (issue 11 item 2)', () => {
  it('a request of weight w takes w slots', async () => {
    const { l } = limiter(4, 5);
    const heavy = await l.acquire(undefined, 3);
    expect(l.running).toBe(3);
    const one = await l.acquire();
    expect(l.running).toBe(4);
    const waiting = l.acquire(undefined, 2);
    expect(l.queued).toBe(1);
    one();
    expect(l.queued).toBe(1); // 3 + 2 > 4: still waiting
    heavy();
    const r = await waiting;
    expect([l.running, l.queued]).toEqual([2, 0]);
    r();
    expect(l.running).toBe(0);
  });

  it('a weight above max_concurrent is clamped: admitted only when nothing else runs', async () => {
    const { l } = limiter(4, 5);
    const small = await l.acquire();
    const huge = l.acquire(undefined, 1000);
    const after = l.acquire(); // FIFO: not admitted ahead of the heavy head
    expect([l.running, l.queued]).toEqual([1, 2]);
    small();
    const rh = await huge;
    expect([l.running, l.queued]).toEqual([4, 1]);
    rh();
    (await after)();
    expect(l.running).toBe(0);
  });

  it('a heavy head that times out lets lighter waiters in', async () => {
    const { l } = limiter(2, 5, 30);
    const one = await l.acquire();
    const heavy = l.acquire(undefined, 2);
    const light = l.acquire(new AbortController().signal);
    await expect(heavy).rejects.toBeInstanceOf(RateLimitError);
    const r = await light;
    expect(l.running).toBe(2);
    r();
    one();
  });
});
