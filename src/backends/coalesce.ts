/**
 * Merges the deltas of one socket read into fewer, larger deltas (issue 14, item 1: "one chat
 * chunk per upstream read"). vLLM sends an SSE event per token; when the server runs ahead of the
 * gateway (a burst, or a fast model) one read holds dozens of them, and relaying each as its own
 * engine event and chat chunk costs the gateway its per-event work (generator hops, a
 * JSON.stringify, a write) dozens of times for data that arrived at once. A merged delta is what
 * vLLM itself sends with `--stream-interval N`: the engine reads multi-id deltas exactly (its
 * tests replay every scenario at every chunk split), and clients see fewer, longer chunks.
 *
 * Bounded by `maxIds` ids per merged delta: a named key's quota is checked between events
 * (quota/governor.ts), so the cap bounds how far one event can run past a spent quota.
 * Only consecutive deltas merge; a usage event, or a delta that finishes, ends a run. Nothing
 * waits for more data: only what one read already delivered is merged, so no latency is added.
 */
import type { CompletionDelta, CompletionEvent } from '../engine/backend.js';

export function coalesceDeltas<E extends { kind: string } = CompletionEvent>(events: readonly E[], maxIds: number): E[] {
  const out: E[] = [];
  let open: CompletionDelta | null = null;
  for (const e of events) {
    if (e.kind !== 'delta') {
      open = null;
      out.push(e);
      continue;
    }
    const ev = e as unknown as CompletionDelta;
    if (open !== null && open.tokenIds.length + ev.tokenIds.length <= maxIds && sameLogprobShape(open, ev)) {
      open.text += ev.text;
      open.tokenIds = open.tokenIds.concat(ev.tokenIds);
      if (open.logprobs !== undefined) open.logprobs = open.logprobs.concat(ev.logprobs!);
      open.finishReason = ev.finishReason;
      open.stopReason = ev.stopReason;
    } else {
      // A copy: the reader's own delta objects are never mutated.
      open = { ...ev };
      out.push(open as unknown as E);
    }
    if (ev.finishReason !== null) open = null;
  }
  return out;
}

/** Logprobs stay aligned with ids: both deltas carry them, or neither does. */
function sameLogprobShape(a: CompletionDelta, b: CompletionDelta): boolean {
  return (a.logprobs === undefined) === (b.logprobs === undefined);
}
