/** The pool's health probes (replicas/upstream-pool.ts), with a scripted backend: no sockets. */
import { describe, expect, it } from 'vitest';
import { UpstreamPool, type PooledBackend } from '../../src/replicas/upstream-pool.js';

/** A backend whose health probes answer only when the test says so, in any order. */
function scriptedBackend(name: string) {
  const pending: Array<(ok: boolean) => void> = [];
  const backend = {
    name,
    health: () => new Promise<boolean>((resolve) => pending.push(resolve)),
    models: async () => [],
    close: async () => undefined,
  } as unknown as PooledBackend;
  return { backend, pending };
}

describe('UpstreamPool health probes', () => {
  it('never overlap on one replica, so an older answer cannot land after a newer one', async () => {
    const a = scriptedBackend('a');
    const seen: boolean[] = [];
    const pool = new UpstreamPool([a.backend], { healthIntervalMs: 0, onHealth: (_name, ok) => seen.push(ok) });
    const first = pool.checkAll();
    const second = pool.checkAll(); // the next interval fires while the first probe hangs
    expect(a.pending).toHaveLength(1);
    await second;
    a.pending[0]!(false);
    await first;
    expect(seen).toEqual([false]);
    expect(pool.anyHealthy()).toBe(false);
    // Once answered, the next round probes again.
    const third = pool.checkAll();
    expect(a.pending).toHaveLength(2);
    a.pending[1]!(true);
    await third;
    expect(seen).toEqual([false, true]);
    expect(pool.anyHealthy()).toBe(true);
  });

  it('a probe that failed only long past its timeout (a blocked event loop) takes no replica out, a second one does', async () => {
    let t = 0;
    const a = scriptedBackend('a');
    const seen: boolean[] = [];
    const pool = new UpstreamPool([a.backend], { healthIntervalMs: 0, healthTimeoutMs: 2000, now: () => t, onHealth: (_n, ok) => seen.push(ok) });
    const round = async (ok: boolean, tookMs: number) => {
      const p = pool.checkAll();
      t += tookMs;
      a.pending.at(-1)!(ok);
      await p;
    };
    await round(true, 5);
    expect(seen).toEqual([true]);
    await round(false, 2600); // answered 2.6 s after a 2 s timeout: the loop was blocked
    expect(pool.anyHealthy()).toBe(true);
    expect(seen).toEqual([true]);
    await round(true, 5); // the replica was fine all along
    await round(false, 2600);
    await round(false, 2600); // late twice in a row: counted
    expect(seen).toEqual([true, false]);
    expect(pool.anyHealthy()).toBe(false);
    await round(true, 5);
    await round(false, 2050); // a failure on time is a failure at once
    expect(seen).toEqual([true, false, true, false]);
  });
});
