/**
 * A request's events on their way to the renderer: the ones pulled while starting (`first`:
 * runs/start-runs.ts), then the runs' stream (`rest`), each seen by the request's observers
 * (its metrics, its trace, its key's token counts) before the renderer sees it.
 *
 * The consumer calls the observers itself (`forEachEvent`) rather than pulling through a
 * generator per observer: each async-generator layer costs promises and microtasks per event,
 * and the relay's per-token CPU is what issue 14 measures (docs/performance.md). `observed()`
 * is the generator form, for what must sit between the runs and the renderer (a quota meter that
 * charges as the stream goes, a majority vote).
 */
import type { IndexedEvent } from '../engine/types.js';

export interface EventFeed {
  first: readonly IndexedEvent[];
  rest: AsyncGenerator<IndexedEvent, void>;
  /** Sees every event before the consumer does; synchronous: it cannot hold the stream up. */
  observe(e: IndexedEvent): void;
}

/**
 * Every event of `feed`, observed, then handed to `f` (awaited only when it returns a promise).
 * However it ends (f throws, the consumer stops), `rest` is returned, which closes the runs
 * and aborts their upstream calls.
 */
export async function forEachEvent(feed: EventFeed, f: (e: IndexedEvent) => void | Promise<void>): Promise<void> {
  let ended = false;
  try {
    for (const e of feed.first) {
      feed.observe(e);
      const p = f(e);
      if (p !== undefined) await p;
    }
    for (;;) {
      const r = await feed.rest.next();
      if (r.done === true) {
        ended = true;
        return;
      }
      feed.observe(r.value);
      const p = f(r.value);
      if (p !== undefined) await p;
    }
  } finally {
    if (!ended) await feed.rest.return(undefined);
  }
}

/** The feed as one generator of observed events: for a layer that must sit before the consumer. */
export async function* observed(feed: EventFeed): AsyncGenerator<IndexedEvent, void> {
  try {
    for (const e of feed.first) {
      feed.observe(e);
      yield e;
    }
    for await (const e of feed.rest) {
      feed.observe(e);
      yield e;
    }
  } finally {
    await feed.rest.return(undefined);
  }
}
