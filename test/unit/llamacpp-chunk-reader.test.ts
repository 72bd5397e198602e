/**
 * llama-server's /completion stream -> vLLM-semantics CompletionEvents (src/backends/llamacpp/chunk-reader.ts).
 * Event shapes as llama-server 0.4.0-dev (commit 80fb11a) sends them, trimmed to the fields read.
 */
import { describe, expect, it } from 'vitest';
import { LlamaChunkReader, WITHHELD_IDS_MESSAGE } from '../../src/backends/llamacpp/chunk-reader.js';
import { llamaSampling } from '../../src/backends/llamacpp/sampling.js';
import { UpstreamError } from '../../src/errors.js';
import type { CompletionEvent } from '../../src/engine/backend.js';

const tok = (id: number, content: string, n: number, cache = 0) =>
  JSON.stringify({ index: 0, content, tokens: [id], stop: false, tokens_predicted: n, tokens_evaluated: 20, timings: { cache_n: cache } });
const fin = (stop_type: string, n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ index: 0, content: '', tokens: [], stop: true, stop_type, stopping_word: '', tokens_predicted: n, tokens_evaluated: 20, timings: { cache_n: 18 }, ...extra });

function readAll(r: LlamaChunkReader, datas: string[]): CompletionEvent[] {
  return datas.flatMap((d) => r.read(d));
}

describe('LlamaChunkReader', () => {
  it('holds one token back and puts the finish on the chunk with the last token (limit -> length)', () => {
    const r = new LlamaChunkReader();
    expect(r.read(tok(10, ' a', 1))).toEqual([]);
    expect(r.read(tok(11, ' b', 2))).toEqual([{ kind: 'delta', text: ' a', tokenIds: [10], finishReason: null, stopReason: null }]);
    expect(r.read(fin('limit', 2))).toEqual([
      { kind: 'delta', text: ' b', tokenIds: [11], finishReason: 'length', stopReason: null },
      { kind: 'usage', promptTokens: 20, completionTokens: 2, cachedTokens: 18 },
    ]);
    expect(r.finished).toBe(true);
    expect(r.stoppedAtId).toBe(false);
  });

  it('EOS: the EOS id stays in tokenIds, its text goes, finish stop with a null stop reason', () => {
    const evs = readAll(new LlamaChunkReader(), [tok(10, ' a', 1), tok(151645, '<|im_end|>', 2), fin('eos', 2)]);
    expect(evs[1]).toEqual({ kind: 'delta', text: '', tokenIds: [151645], finishReason: 'stop', stopReason: null });
  });

  it('a stop token id ends the completion at that id (vLLM stop_token_ids) and asks the client to hang up', () => {
    const r = new LlamaChunkReader([151668]);
    const evs = readAll(r, [tok(10, ' a', 1), tok(151668, '</think>', 2, 5)]);
    expect(evs).toEqual([
      { kind: 'delta', text: ' a', tokenIds: [10], finishReason: null, stopReason: null },
      { kind: 'delta', text: '', tokenIds: [151668], finishReason: 'stop', stopReason: 151668 },
      { kind: 'usage', promptTokens: 20, completionTokens: 2, cachedTokens: 5 },
    ]);
    expect(r.stoppedAtId).toBe(true);
    // Tokens that were already on the wire before the cancel are ignored.
    expect(r.read(tok(12, ' c', 3))).toEqual([]);
  });

  it('a stop string: finish stop with the stopping word as stop reason', () => {
    const evs = readAll(new LlamaChunkReader(), [tok(10, '', 1), fin('word', 1, { stopping_word: 'END' })]);
    expect(evs[0]).toMatchObject({ tokenIds: [10], finishReason: 'stop', stopReason: 'END' });
  });

  it('fails when llama-server withheld an id (a token inside a multi-byte character)', () => {
    const r = new LlamaChunkReader();
    r.read(tok(10, ' a', 1));
    expect(() => r.read(tok(12, '日', 3))).toThrow(WITHHELD_IDS_MESSAGE);
  });

  it('an error event after the 200 is an upstream error; junk is too', () => {
    const r = new LlamaChunkReader();
    expect(() => r.read(JSON.stringify({ error: { code: 500, message: 'boom', type: 'server_error' } }))).toThrow(/^vLLM failed during generation\.$/);
    expect(() => new LlamaChunkReader().read('{nope')).toThrow(UpstreamError);
    expect(() => new LlamaChunkReader().read(JSON.stringify({ content: 'x' }))).toThrow(UpstreamError);
  });
});

describe('llamaSampling', () => {
  it('fills vLLM neutral defaults, renames repetition_penalty, keeps extras, drops protocol fields', () => {
    expect(llamaSampling({ temperature: 0.6, repetition_penalty: 1.2, mirostat: 2, stream: false, n_predict: 9, seed: 3 })).toEqual({
      temperature: 0.6,
      top_k: 0,
      top_p: 1,
      min_p: 0,
      typical_p: 1,
      repeat_penalty: 1.2,
      presence_penalty: 0,
      frequency_penalty: 0,
      mirostat: 2,
      seed: 3,
    });
  });
});
