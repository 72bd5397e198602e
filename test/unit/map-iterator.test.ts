import { describe, expect, it } from 'vitest';
import { mapIterator } from '../../src/util/map-iterator.js';

/** A source that records how it ended. */
function source(values: number[], failAt?: number): { gen: AsyncGenerator<number, void>; log: string[] } {
  const log: string[] = [];
  async function* gen(): AsyncGenerator<number, void> {
    try {
      for (const [i, v] of values.entries()) {
        if (i === failAt) throw new Error('source failed');
        yield v;
      }
      log.push('done');
    } finally {
      log.push('finally');
    }
  }
  return { gen: gen(), log };
}

describe('mapIterator', () => {
  it('maps every value and runs onEnd once, before the done result', async () => {
    const { gen, log } = source([1, 2, 3]);
    const it = mapIterator(gen, (v) => v * 10, async () => {
      await new Promise((r) => setTimeout(r, 5));
      log.push('onEnd');
    });
    const got: number[] = [];
    for await (const v of it) got.push(v);
    expect(got).toEqual([10, 20, 30]);
    expect(log).toEqual(['done', 'finally', 'onEnd']);
    await it.return(undefined);
    expect(log).toEqual(['done', 'finally', 'onEnd']);
  });

  it('a failing source: onEnd runs, then the error goes on', async () => {
    const { gen, log } = source([1, 2, 3], 1);
    const it = mapIterator(gen, (v) => v, async () => void log.push('onEnd'));
    expect(await it.next()).toEqual({ done: false, value: 1 });
    await expect(it.next()).rejects.toThrow('source failed');
    expect(log).toEqual(['finally', 'onEnd']);
  });

  it('leaving early returns the source (its finally runs) and runs onEnd', async () => {
    const { gen, log } = source([1, 2, 3]);
    const it = mapIterator(gen, (v) => v, async () => void log.push('onEnd'));
    for await (const v of it) if (v === 1) break;
    expect(log).toEqual(['finally', 'onEnd']);
  });

  it('a map that throws closes the source and fails the call', async () => {
    const { gen, log } = source([1, 2, 3]);
    const it = mapIterator(
      gen,
      (v) => {
        if (v === 2) throw new Error('bad value');
        return v;
      },
      async () => void log.push('onEnd'),
    );
    expect(await it.next()).toEqual({ done: false, value: 1 });
    await expect(it.next()).rejects.toThrow('bad value');
    expect(log).toEqual(['finally', 'onEnd']);
  });

  it('throw() reaches the source', async () => {
    const { gen, log } = source([1, 2, 3]);
    const it = mapIterator(gen, (v) => v, async () => void log.push('onEnd'));
    await it.next();
    await expect(it.throw(new Error('from the caller'))).rejects.toThrow('from the caller');
    expect(log).toEqual(['finally', 'onEnd']);
  });

  it('without onEnd, results pass as they are', async () => {
    const { gen } = source([4]);
    const it = mapIterator(gen, (v) => String(v));
    expect(await it.next()).toEqual({ done: false, value: '4' });
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });
});
