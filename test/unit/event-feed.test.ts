/**
 * serving/event-feed.ts: the consumer calls the request's observers itself (issue 14, item 4:
 * no generator layer per observer). Each event is observed once, before the consumer sees it;
 * however the consumer stops, the runs are closed.
 */
import { describe, expect, it } from 'vitest';
import { forEachEvent, observed, type EventFeed } from '../../src/serving/event-feed.js';
import type { EngineEvent, IndexedEvent } from '../../src/engine/types.js';

const ev = (text: string): IndexedEvent => ({ index: 0, ev: { type: 'content', text, tokens: 1 } as EngineEvent });
const text = (e: IndexedEvent): string => (e.ev.type === 'content' ? e.ev.text : e.ev.type);

function feed(log: string[], n: number): EventFeed & { closed(): boolean } {
  let closed = false;
  const rest = (async function* () {
    try {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setImmediate(r));
        yield ev(`r${i}`);
      }
    } finally {
      closed = true;
    }
  })();
  return { first: [ev('f0'), ev('f1')], rest, observe: (e) => log.push(`observe ${text(e)}`), closed: () => closed };
}

describe('forEachEvent', () => {
  it('observes each event once, then hands it on: the started ones first, then the stream', async () => {
    const log: string[] = [];
    const f = feed(log, 2);
    await forEachEvent(f, (e) => void log.push(`consume ${text(e)}`));
    expect(log).toEqual(['observe f0', 'consume f0', 'observe f1', 'consume f1', 'observe r0', 'consume r0', 'observe r1', 'consume r1']);
    expect(f.closed()).toBe(true);
  });

  it('waits for a consumer that returns a promise before pulling the next event (backpressure)', async () => {
    const log: string[] = [];
    let release!: () => void;
    const f = feed(log, 3);
    const done = forEachEvent(f, (e) => {
      log.push(`consume ${text(e)}`);
      if (text(e) === 'r0') return new Promise<void>((r) => (release = r));
      return undefined;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(log.at(-1)).toBe('consume r0'); // r1 not pulled while the consumer holds r0
    release();
    await done;
    expect(log.at(-1)).toBe('consume r2');
  });

  it('a consumer that throws (the client left) ends the loop with its error and closes the runs', async () => {
    const log: string[] = [];
    const f = feed(log, 100);
    const stop = new Error('client closed the stream');
    await expect(forEachEvent(f, (e) => (text(e) === 'r1' ? Promise.reject(stop) : undefined))).rejects.toBe(stop);
    expect(f.closed()).toBe(true);
    expect(log.filter((l) => l.startsWith('observe'))).toEqual(['observe f0', 'observe f1', 'observe r0', 'observe r1']);
  });

  it('a stream that fails reaches the consumer as its error', async () => {
    const rest = (async function* (): AsyncGenerator<IndexedEvent, void> {
      yield ev('r0');
      throw new Error('upstream failed');
    })();
    const seen: string[] = [];
    await expect(forEachEvent({ first: [], rest, observe: () => undefined }, (e) => void seen.push(text(e)))).rejects.toThrow('upstream failed');
    expect(seen).toEqual(['r0']);
  });
});

describe('observed', () => {
  it('is the same feed as one generator: observed before yielded, and a consumer that leaves closes the runs', async () => {
    const log: string[] = [];
    const f = feed(log, 100);
    for await (const e of observed(f)) {
      log.push(`consume ${text(e)}`);
      if (text(e) === 'r0') break;
    }
    expect(log).toEqual(['observe f0', 'consume f0', 'observe f1', 'consume f1', 'observe r0', 'consume r0']);
    expect(f.closed()).toBe(true);
  });
});
