import { describe, expect, it } from 'vitest';
import { mergeChoices } from '../../src/runs/merge-choices.js';
import type { EngineEvent } from '../../src/engine/types.js';

const ev = (i: number): EngineEvent => ({ type: 'content', text: String(i), tokens: 1 });

/** A run that yields `events` events, each after a macrotask, and records whether it was closed. */
function run(events: number, closed: boolean[], i: number): AsyncGenerator<EngineEvent, void> {
  return (async function* () {
    try {
      for (let k = 0; k < events; k++) {
        await new Promise((r) => setImmediate(r));
        yield ev(k);
      }
    } finally {
      closed[i] = true;
    }
  })();
}

describe('mergeChoices', () => {
  it('yields every event of every run, tagged with its index', async () => {
    const closed: boolean[] = [];
    const seen = new Map<number, number>();
    for await (const { index } of mergeChoices([0, 1, 2].map((i) => run(3 + i, closed, i)))) {
      seen.set(index, (seen.get(index) ?? 0) + 1);
    }
    expect([...seen.entries()].sort()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
  });

  it('one run: its events tagged 0, in order, without a generator layer; return() and throw() reach the run', async () => {
    const closed: boolean[] = [];
    const seen: string[] = [];
    for await (const { index, ev: e } of mergeChoices([run(4, closed, 0)])) seen.push(`${index}:${e.type === 'content' ? e.text : ''}`);
    expect(seen).toEqual(['0:0', '0:1', '0:2', '0:3']);
    expect(closed[0]).toBe(true);

    const early: boolean[] = [];
    const one = mergeChoices([run(100, early, 0)]);
    expect(await one.next()).toEqual({ done: false, value: { index: 0, ev: ev(0) } });
    for await (const _ of one) break; // a consumer that leaves: the run is closed (its finally ran)
    expect(early[0]).toBe(true);
    expect(await one.next()).toEqual({ done: true, value: undefined });

    const thrown: boolean[] = [];
    const other = mergeChoices([run(100, thrown, 0)]);
    await other.next();
    await expect(other.throw(new Error('from the consumer'))).rejects.toThrow('from the consumer');
    expect(thrown[0]).toBe(true);
    expect(other[Symbol.asyncIterator]()).toBe(other);
  });

  it('returning early closes every run', async () => {
    const closed: boolean[] = [];
    const runs = Array.from({ length: 5 }, (_, i) => run(100, closed, i));
    let k = 0;
    for await (const _ of mergeChoices(runs)) if (++k === 7) break;
    expect(closed).toEqual([true, true, true, true, true]);
  });

  it('a run that throws ends the merge with its error and closes the others', async () => {
    const closed: boolean[] = [];
    const bad = (async function* (): AsyncGenerator<EngineEvent, void> {
      await new Promise((r) => setImmediate(r));
      throw new Error('boom');
    })();
    const runs = [run(100, closed, 0), bad, run(100, closed, 2)];
    await expect(async () => {
      for await (const _ of mergeChoices(runs)) void _;
    }).rejects.toThrow('boom');
    expect(closed[0]).toBe(true);
    expect(closed[2]).toBe(true);
  });

  // Issue 11 item 2: Promise.race over every pending run for each event is O(runs) per event
  // (0.7 / 3.6 / 20 s of CPU for 250 / 500 / 1000 runs). Counting Promise#then calls while the
  // merge runs measures that work without depending on the machine's speed.
  it('does linear work per event: 1000 runs cost no more per event than 100', async () => {
    const work = async (n: number): Promise<number> => {
      const closed: boolean[] = [];
      const runs = Array.from({ length: n }, (_, i) => run(4, closed, i));
      const then = Promise.prototype.then;
      let thens = 0;
      Promise.prototype.then = function (this: Promise<unknown>, ...a: [never, never]) {
        thens++;
        return then.apply(this, a);
      } as typeof then;
      let events = 0;
      try {
        for await (const _ of mergeChoices(runs)) events++;
      } finally {
        Promise.prototype.then = then;
      }
      expect(events).toBe(n * 4);
      return thens / events;
    };
    const small = await work(100);
    const large = await work(1000);
    expect(large).toBeLessThan(small * 2);
  });
});
