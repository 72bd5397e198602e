/**
 * `n` choices are `n` independent engine runs (each budget-forced on its own: the paper's
 * parallel-scaling baseline). This interleaves their events as they come, tagged with the
 * choice index; returning early (client gone, error) closes every run, which aborts its upstream.
 *
 * Linear in the number of runs: each run has at most one `next()` in flight, and a settled one
 * pushes itself into one FIFO queue the merge reads. Racing every pending run for each event
 * (Promise.race over n promises) cost O(n) per event, so O(n^2) per round: issue 11 measured
 * 0.7 / 3.6 / 20 s of CPU for 250 / 500 / 1000 runs.
 */
import type { EngineEvent, IndexedEvent } from '../engine/types.js';
import { mapIterator } from '../util/map-iterator.js';

export type { IndexedEvent } from '../engine/types.js';

type Settled = { index: number; res: IteratorResult<EngineEvent, void> } | { index: number; err: unknown };

export function mergeChoices(runs: readonly AsyncGenerator<EngineEvent, void>[]): AsyncGenerator<IndexedEvent, void> {
  return runs.length === 1 ? onlyChoice(runs[0]!) : interleave(runs);
}

/** One run's events tagged index 0, without another async-generator layer (util/map-iterator.ts). */
function onlyChoice(run: AsyncGenerator<EngineEvent, void>): AsyncGenerator<IndexedEvent, void> {
  return mapIterator(run, (ev) => ({ index: 0, ev }));
}

async function* interleave(runs: readonly AsyncGenerator<EngineEvent, void>[]): AsyncGenerator<IndexedEvent, void> {
  const ready: Settled[] = [];
  let head = 0;
  let wake: (() => void) | null = null;
  const pull = (index: number): void => {
    runs[index]!.next().then(
      (res) => settle({ index, res }),
      (err: unknown) => settle({ index, err }),
    );
  };
  const settle = (s: Settled): void => {
    ready.push(s);
    const w = wake;
    wake = null;
    w?.();
  };
  let live = runs.length;
  runs.forEach((_, i) => pull(i));
  try {
    while (live > 0) {
      if (head === ready.length) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const s = ready[head]!;
      ready[head++] = undefined as unknown as Settled; // let the event go once read
      if (head > 1024 && head * 2 > ready.length) {
        ready.splice(0, head);
        head = 0;
      }
      if ('err' in s) throw s.err;
      if (s.res.done) {
        live--;
        continue;
      }
      pull(s.index);
      yield { index: s.index, ev: s.res.value };
    }
  } finally {
    // Close whatever is still running; their finally blocks abort their upstream requests. A
    // run with a next() in flight finishes it first (async generators queue return()), which
    // the caller's abort of the shared signal makes prompt.
    await Promise.allSettled(runs.map((r) => r.return(undefined)));
  }
}
