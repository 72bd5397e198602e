/**
 * vLLM's completions logprobs read into one entry per token id (src/backends/vllm/logprobs.ts,
 * through the chunk reader), and a hostile upstream's logprobs: misaligned, malformed, huge.
 * Each fails as one clean UpstreamError, bounded.
 */
import { describe, expect, it } from 'vitest';
import { CompletionChunkReader } from '../../src/backends/vllm/chunk-reader.js';
import type { CompletionDelta } from '../../src/engine/backend.js';
import { UpstreamError } from '../../src/errors.js';

type Json = Record<string, unknown>;
const chunk = (ids: number[], logprobs: unknown, extra: Json = {}): string =>
  JSON.stringify({ choices: [{ index: 0, text: 'x'.repeat(ids.length), token_ids: ids, finish_reason: null, logprobs, ...extra }] });
const lp = (tokens: string[], values: number[], top: (Json | null)[] | null = tokens.map((t, i) => ({ [t]: values[i] }))) => ({
  tokens,
  token_logprobs: values,
  top_logprobs: top,
  text_offset: tokens.map((_, i) => i),
});
const read = (r: CompletionChunkReader, data: string) => r.read(data) as CompletionDelta;

describe('CompletionChunkReader with logprobs', () => {
  it('gives one entry per id: the sampled token first, then the others by rank, cut at k', () => {
    const r = new CompletionChunkReader({ logprobs: 2 });
    // "7" and "12" are integer-like keys: JSON.parse puts them first whatever vLLM's order was.
    const d = read(r, chunk([5, 6], lp([' a', '7'], [-0.5, -2], [{ ' a': -0.5, ' b': -1.5, '12': -1 }, { '7': -2, ' c': -0.25, '12': -0.75 }])));
    expect(d.logprobs).toEqual([
      { token: ' a', logprob: -0.5, top: [{ token: ' a', logprob: -0.5 }, { token: '12', logprob: -1 }] },
      { token: '7', logprob: -2, top: [{ token: '7', logprob: -2 }, { token: ' c', logprob: -0.25 }] },
    ]);
  });

  it('top_logprobs 0: the entries have no alternatives (chat renders top_logprobs: [])', () => {
    const d = read(new CompletionChunkReader({ logprobs: 0 }), chunk([5], lp([' a'], [-0.5])));
    expect(d.logprobs).toEqual([{ token: ' a', logprob: -0.5, top: [] }]);
  });

  it('reads no logprobs when none were asked for, whatever the upstream sends', () => {
    const d = read(new CompletionChunkReader(), chunk([5], { junk: true }));
    expect(d.logprobs).toBeUndefined();
  });

  it('a finish chunk without ids may come without logprobs', () => {
    const r = new CompletionChunkReader({ logprobs: 1 });
    const d = read(r, JSON.stringify({ choices: [{ index: 0, text: '', token_ids: [], finish_reason: 'stop', logprobs: null }] }));
    expect(d.logprobs).toEqual([]);
  });

  const hostile: [string, string][] = [
    ['ids without logprobs', chunk([5, 6], null)],
    ['more entries than ids', chunk([5], lp([' a', ' b'], [-1, -1]))],
    ['fewer entries than ids', chunk([5, 6, 7], lp([' a', ' b'], [-1, -1]))],
    ['top_logprobs misaligned', chunk([5, 6], lp([' a', ' b'], [-1, -1], [{ ' a': -1 }]))],
    ['a logprob that is a string', chunk([5], lp([' a'], ['-1' as unknown as number]))],
    ['a positive logprob', chunk([5], lp([' a'], [3]))],
    ['an absurd logprob', chunk([5], lp([' a'], [-1e300]))],
    ['a token that is not a string', chunk([5], { ...lp([' a'], [-1]), tokens: [7] })],
    ['a 300-character token', chunk([5], lp(['y'.repeat(300)], [-1]))],
    ['a 10 MB token', chunk([5], lp(['z'.repeat(10 * 1024 * 1024)], [-1]))],
    ['a 10 MB alternative', chunk([5], lp([' a'], [-1], [{ ' a': -1, ['z'.repeat(10 * 1024 * 1024)]: -2 }]))],
    ['more alternatives than asked for', chunk([5], lp([' a'], [-1], [{ ' a': -1, ' b': -2, ' c': -3, ' d': -4 }]))],
    ['logprobs that are an array', chunk([5], [1, 2])],
  ];
  for (const [name, data] of hostile) {
    it(`fails cleanly on ${name}`, () => {
      const r = new CompletionChunkReader({ logprobs: 2 });
      expect(() => r.read(data)).toThrow(UpstreamError);
    });
  }

  it('NaN or Infinity (invalid JSON, as Python writes them) fail as malformed JSON', () => {
    const r = new CompletionChunkReader({ logprobs: 0 });
    const data = chunk([5], lp([' a'], [0])).replace('"token_logprobs":[0]', '"token_logprobs":[NaN]');
    expect(data).toContain('NaN');
    expect(() => r.read(data)).toThrow(/malformed JSON/);
  });

  it('bounds the logprob text of a stream: 20 alternatives of 250 characters per token fail within a few hundred tokens', () => {
    const r = new CompletionChunkReader({ logprobs: 20 });
    let failed = -1;
    for (let i = 0; i < 1000 && failed === -1; i++) {
      const keys = Array.from({ length: 21 }, (_, k) => `${String(k).padStart(3, '0')}${'w'.repeat(247)}${i}`.slice(0, 256));
      const top: Json = Object.fromEntries(keys.map((k, j) => [k, -j]));
      try {
        r.read(chunk([5], lp([keys[0]!], [0], [top])));
      } catch (err) {
        expect(err).toBeInstanceOf(UpstreamError);
        failed = i;
      }
    }
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(200);
  });
});

describe('the chat shape of /inference/v1/generate (media segments: logprobsShape chat)', () => {
  const entry = (token: string, logprob: number | null, top: Array<[string, number]>) => ({
    token,
    logprob,
    bytes: [...Buffer.from(token)],
    top_logprobs: top.map(([t, l]) => ({ token: t, logprob: l, bytes: [...Buffer.from(t)] })),
  });
  const chatChunk = (ids: number[], content: unknown[]) => chunk(ids, { content });

  it('reads the list as sent (the engine\'s order: sampled first, then by rank), cut at k', () => {
    const r = new CompletionChunkReader({ logprobs: 1, logprobsShape: 'chat' });
    const d = read(r, chatChunk([5, 6], [entry(' a', -0.5, [[' a', -0.5]]), entry('7', null, [['7', -2]])]));
    expect(d.logprobs).toEqual([
      { token: ' a', logprob: -0.5, top: [{ token: ' a', logprob: -0.5 }] },
      // A missing logprob reads as vLLM's chat renders it.
      { token: '7', logprob: -9999, top: [{ token: '7', logprob: -2 }] },
    ]);
    // k = 0: vLLM still sends one alternative (max(k, 1)); chat renders none.
    const z = new CompletionChunkReader({ logprobs: 0, logprobsShape: 'chat' });
    expect(read(z, chatChunk([5], [entry(' a', -0.5, [[' a', -0.5]])])).logprobs).toEqual([{ token: ' a', logprob: -0.5, top: [] }]);
  });

  it('misaligned, too many alternatives, malformed or missing: one clean UpstreamError', () => {
    const bad: Array<[number[], unknown]> = [
      [[5, 6], { content: [entry(' a', -0.5, [])] }],
      [[5], { content: [entry(' a', -0.5, [[' a', -0.5], [' b', -1], [' c', -2]])] }],
      [[5], { content: [{ token: 7, logprob: -1 }] }],
      [[5], { content: [entry(' a', 3, [])] }],
      [[5], { tokens: [' a'], token_logprobs: [-1] }],
      [[5], null],
    ];
    for (const [ids, logprobs] of bad) {
      const r = new CompletionChunkReader({ logprobs: 1, logprobsShape: 'chat' });
      expect(() => r.read(chunk(ids, logprobs)), JSON.stringify(logprobs)).toThrow(UpstreamError);
    }
  });
});
