/**
 * `n` choices are `n` independent engine runs (each budget-forced on its own: the paper's
 * parallel-scaling baseline). This interleaves their events as they come, tagged with the
 * choice index; returning early (client gone, error) closes every run, which aborts its upstream.
 */
import type { EngineEvent } from '../engine/types.js';

export interface IndexedEvent {
  index: number;
  ev: EngineEvent;
}

export async function* mergeChoices(runs: readonly AsyncGenerator<EngineEvent, void>[]): AsyncGenerator<IndexedEvent, void> {
  if (runs.length === 1) {
    for await (const ev of runs[0]!) yield { index: 0, ev };
    return;
  }
  type Next = { index: number; res: IteratorResult<EngineEvent, void> };
  const pending = new Map<number, Promise<Next>>();
  const pull = (index: number): void => {
    pending.set(index, runs[index]!.next().then((res) => ({ index, res })));
  };
  runs.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0) {
      const { index, res } = await Promise.race(pending.values());
      if (res.done) {
        pending.delete(index);
        continue;
      }
      pull(index);
      yield { index, ev: res.value };
    }
  } finally {
    // Runs still waiting on their upstream reject once the caller aborts the shared signal.
    for (const p of pending.values()) p.catch(() => undefined);
    // Close whatever is still running; their finally blocks abort their upstream requests.
    await Promise.allSettled(runs.map((r) => r.return(undefined)));
  }
}
