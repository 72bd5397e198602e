/**
 * backends/coalesce.ts: one socket read's deltas merged into fewer, larger ones (issue 14,
 * item 1), bounded by the cap, never across a usage event or past a finish.
 */
import { describe, expect, it } from 'vitest';
import { coalesceDeltas } from '../../src/backends/coalesce.js';
import type { CompletionDelta, CompletionEvent, TokenLogprob } from '../../src/engine/backend.js';

const d = (text: string, ids: number[], finish: CompletionDelta['finishReason'] = null, stop: number | string | null = null): CompletionDelta => ({
  kind: 'delta',
  text,
  tokenIds: ids,
  finishReason: finish,
  stopReason: stop,
});
const lp = (token: string): TokenLogprob => ({ token, logprob: -1, top: [] });

describe('coalesceDeltas', () => {
  it('merges consecutive deltas: text and ids concatenated, the finish and stop reason of the last', () => {
    const evs = [d('a', [1]), d('b', [2]), d('', [9], 'stop', 9)];
    expect(coalesceDeltas(evs, 16)).toEqual([{ kind: 'delta', text: 'ab', tokenIds: [1, 2, 9], finishReason: 'stop', stopReason: 9 }]);
  });

  it('never puts more than the cap of ids in one delta, and keeps every id in order', () => {
    const evs = Array.from({ length: 10 }, (_, i) => d(String(i), [i]));
    const out = coalesceDeltas(evs, 4) as CompletionDelta[];
    expect(out.map((e) => e.tokenIds)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(out.map((e) => e.text).join('')).toBe('0123456789');
    // A delta bigger than the cap by itself (vLLM's --stream-interval) passes as it is.
    expect(coalesceDeltas([d('ab', [1, 2]), d('cdef', [3, 4, 5, 6])], 3)).toEqual([d('ab', [1, 2]), d('cdef', [3, 4, 5, 6])]);
  });

  it('does not merge across a usage event or past a delta that finishes', () => {
    const usage: CompletionEvent = { kind: 'usage', promptTokens: 3, completionTokens: 2 };
    const evs: CompletionEvent[] = [d('a', [1]), usage, d('b', [2]), d('c', [3], 'length'), d('x', [4])];
    expect(coalesceDeltas(evs, 16)).toEqual([d('a', [1]), usage, { ...d('bc', [2, 3], 'length') }, d('x', [4])]);
  });

  it('keeps logprobs aligned with ids: merged when both carry them, never mixed with a delta without', () => {
    const a = { ...d('a', [1]), logprobs: [lp('a')] };
    const b = { ...d('b', [2]), logprobs: [lp('b')] };
    const out = coalesceDeltas([a, b, d('c', [3])], 16) as CompletionDelta[];
    expect(out).toHaveLength(2);
    expect(out[0]!.tokenIds).toEqual([1, 2]);
    expect(out[0]!.logprobs).toEqual([lp('a'), lp('b')]);
    expect(out[1]).toEqual(d('c', [3]));
  });

  it('does not mutate the events it was given', () => {
    const evs = [d('a', [1]), d('b', [2])];
    const copy = structuredClone(evs);
    coalesceDeltas(evs, 16);
    expect(evs).toEqual(copy);
  });
});
