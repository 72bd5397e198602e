/**
 * quota/governor.ts over a store that can be made to fail: admission, metering as the stream
 * runs, and the store's failure modes (open keeps uncharged tokens for later; closed refuses),
 * with one log line when the store goes down and one when it is back.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { EngineEvent, IndexedEvent } from '../../src/engine/types.js';
import { KeyLimitError, ServiceUnavailableError } from '../../src/errors.js';
import { createKeyMetrics } from '../../src/metrics/key-metrics.js';
import { QuotaGovernor } from '../../src/quota/governor.js';
import { MemoryQuotaStore } from '../../src/quota/memory-store.js';
import type { KeyPolicy } from '../../src/quota/policy.js';
import type { QuotaStore } from '../../src/quota/store.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

class FlakyStore implements QuotaStore {
  down = false;
  readonly inner = new MemoryQuotaStore();
  admit(...a: Parameters<QuotaStore['admit']>) {
    return this.down ? Promise.reject(new Error('ECONNREFUSED')) : this.inner.admit(...a);
  }
  charge(...a: Parameters<QuotaStore['charge']>) {
    return this.down ? Promise.reject(new Error('ECONNREFUSED')) : this.inner.charge(...a);
  }
  close() {
    return this.inner.close();
  }
}

function setup(onStoreError: 'open' | 'closed', chargeEveryTokens = 10) {
  const store = new FlakyStore();
  const lines: string[] = [];
  const log = { warn: (_o: object, m: string) => lines.push(`warn ${m}`), info: (_o: object, m: string) => lines.push(`info ${m}`) };
  const registry = new Registry();
  const gov = new QuotaGovernor(store, { onStoreError, chargeEveryTokens, now: () => T0, log, metrics: createKeyMetrics(registry) });
  return { store, lines, gov, registry };
}
const policy = (p: Partial<KeyPolicy> = {}): KeyPolicy => ({ name: 'k', sha256: '0'.repeat(64), thinkingQuota: { day: 100 }, onQuotaExhausted: 'refuse', ...p });

async function* events(evs: EngineEvent[]): AsyncGenerator<IndexedEvent, void> {
  for (const ev of evs) yield { index: 0, ev };
}
const think = (n: number): EngineEvent[] => Array.from({ length: n }, () => ({ type: 'reasoning', text: 'x', tokens: 1 }));
async function drain(g: AsyncGenerator<IndexedEvent, void>): Promise<number> {
  let n = 0;
  for await (const e of g) if (e.ev.type === 'reasoning') n++;
  return n;
}
const used = async (store: FlakyStore) => (await store.inner.admit('k', T0, 0, ['day'])).used[0];

describe('quota governor', () => {
  it('charges every chargeEvery tokens; what ran is charged however the stream ends', async () => {
    const { gov, store } = setup('open');
    const g = await gov.admit(policy(), 1, 1);
    const it = g.meter(events(think(28)));
    for (let i = 0; i < 25; i++) await it.next();
    expect(await used(store)).toBe(20); // charged at the 10th and 20th token; 5 pending
    await it.return(undefined);
    expect(await used(store)).toBe(25); // the client went away: what ran is charged all the same
  });

  it('a segment boundary charges what is pending', async () => {
    const { gov, store } = setup('open');
    const g = await gov.admit(policy(), 1, 1);
    const it = g.meter(events([...think(3), { type: 'usage', segment: 0, promptTokens: 1, completionTokens: 3 }, ...think(2)]));
    for (let i = 0; i < 4; i++) await it.next();
    expect(await used(store)).toBe(3);
    await drain(it);
    expect(await used(store)).toBe(5);
  });

  it('a charge that finds the quota spent ends this stream and every other of the key at their next thinking token', async () => {
    const { gov } = setup('open');
    const a = (await gov.admit(policy(), 1, 1)).meter(events(think(200)));
    const b = (await gov.admit(policy(), 1, 1)).meter(events(think(200)));
    await b.next();
    await expect(drain(a)).rejects.toBeInstanceOf(KeyLimitError);
    await expect(drain(b)).rejects.toMatchObject({ code: 'thinking_quota_exceeded' });
    await expect(gov.admit(policy(), 1, 1)).rejects.toMatchObject({ status: 429, code: 'thinking_quota_exceeded' });
  });

  it('fails open: admitted unmetered while down, uncharged tokens kept and charged once the store is back; one log line each way', async () => {
    const { gov, store, lines, registry } = setup('open');
    store.down = true;
    const g = await gov.admit(policy(), 1, 1);
    const it = g.meter(events(think(40)));
    for (let i = 0; i < 25; i++) await it.next();
    expect(lines).toEqual(['warn quota store failed; failing open']);
    store.down = false;
    await drain(it);
    expect(await used(store)).toBe(40);
    expect(lines).toEqual(['warn quota store failed; failing open', 'info quota store recovered']);
    const text = await registry.metrics();
    expect(text).toMatch(/thinkgate_quota_store_errors_total\{op="admit"\} 1/);
    expect(text).toMatch(/thinkgate_quota_store_up 1/);
  });

  it('a charge that ran but whose answer was lost (a timeout) is sent again and not charged twice', async () => {
    const { gov, store } = setup('open');
    let lose = 2;
    const inner = store.charge.bind(store);
    store.charge = async (...a) => {
      const r = await inner(...a);
      if (lose-- > 0) throw new Error('Command timed out');
      return r;
    };
    const g = await gov.admit(policy({ thinkingQuota: { day: 10_000 } }), 1, 1);
    expect(await drain(g.meter(events(think(95))))).toBe(95);
    expect(await used(store)).toBe(95);
  });

  it('fails closed: 503 quota_store_unavailable at admission and mid-stream', async () => {
    const { gov, store } = setup('closed');
    const g = await gov.admit(policy(), 1, 1);
    store.down = true;
    await expect(gov.admit(policy(), 1, 1)).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(drain(g.meter(events(think(30))))).rejects.toMatchObject({ status: 503, code: 'quota_store_unavailable' });
  });

  it('no store call for an unnamed key or a policy with only caps', async () => {
    const { gov, store } = setup('closed');
    store.down = true;
    expect((await gov.admit(undefined, 5, 5)).key).toBe('_unnamed');
    const g = await gov.admit(policy({ thinkingQuota: {}, maxThinkingTokens: 7 }), 1, 1);
    expect(g.thinkingCap).toEqual({ tokens: 7, by: 'key_cap' });
    expect(await drain(g.meter(events(think(30))))).toBe(30);
  });

  it('degrade splits what is left over the runs, and takes the lower of it and the key cap', async () => {
    const { gov, store } = setup('open');
    await store.inner.charge('k', T0, ['day'], 70);
    expect((await gov.admit(policy({ onQuotaExhausted: 'degrade' }), 4, 4)).thinkingCap).toEqual({ tokens: 7, by: 'thinking_quota' });
    expect((await gov.admit(policy({ onQuotaExhausted: 'degrade', maxThinkingTokens: 5 }), 1, 1)).thinkingCap).toEqual({ tokens: 5, by: 'key_cap' });
    await store.inner.charge('k', T0, ['day'], 50);
    expect((await gov.admit(policy({ onQuotaExhausted: 'degrade' }), 1, 1)).thinkingCap).toEqual({ tokens: 0, by: 'thinking_quota' });
  });
});
