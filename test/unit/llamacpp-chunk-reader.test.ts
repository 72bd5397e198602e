/**
 * llama-server's /completion stream -> vLLM-semantics CompletionEvents: the reader
 * (src/backends/llamacpp/chunk-reader.ts), the recovery of ids withheld inside a multi-byte
 * character (withheld-ids.ts) and the assembler (completion-assembler.ts), run together as
 * completion-stream.ts runs them. Event shapes as llama-server 0.4.0-dev (commit 80fb11a) sends
 * them; test/support/llama-stream.ts replays its withholding for any sequence of sampled tokens.
 */
import { describe, expect, it } from 'vitest';
import { LlamaChunkReader, MAX_WITHHELD_IDS } from '../../src/backends/llamacpp/chunk-reader.js';
import { LlamaCompletionAssembler } from '../../src/backends/llamacpp/completion-assembler.js';
import { assembleLlamaEvents, LLAMA_TAIL_TOKENS } from '../../src/backends/llamacpp/completion-stream.js';
import { recoverWithheld, type PieceSource, type TokenPiece } from '../../src/backends/llamacpp/withheld-ids.js';
import { endsInsideCharacter, textOfCompleteCharacters } from '../../src/backends/llamacpp/utf8.js';
import { llamaSampling } from '../../src/backends/llamacpp/sampling.js';
import { UpstreamError } from '../../src/errors.js';
import type { CompletionDelta, CompletionEvent } from '../../src/engine/backend.js';
import { bytesOf, llamaStream, pieceJson, ToyVocab } from '../support/llama-stream.js';

const tok = (id: number, content: string, n: number, cache = 0) =>
  JSON.stringify({ index: 0, content, tokens: [id], stop: false, tokens_predicted: n, tokens_evaluated: 20, timings: { cache_n: cache } });
const fin = (stop_type: string, n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ index: 0, content: '', tokens: [], stop: true, stop_type, stopping_word: '', tokens_predicted: n, tokens_evaluated: 20, timings: { cache_n: 18 }, ...extra });

const enc = new TextEncoder();
const never: PieceSource = () => Promise.reject(new Error('no /tokenize expected'));

/** /tokenize with_pieces over a toy vocabulary, counting calls. */
function oracle(vocab: ToyVocab): PieceSource & { calls: Array<string | readonly number[]> } {
  const calls: Array<string | readonly number[]> = [];
  const f = async (content: string | readonly number[]): Promise<TokenPiece[]> => {
    calls.push(content);
    // llama-server answers an id past its vocabulary with HTTP 500 (id_to_token.at).
    if (typeof content !== 'string' && content.some((id) => !vocab.has(id))) throw new UpstreamError('llama-server answered POST /tokenize with HTTP 500.');
    return vocab.withPieces(typeof content === 'string' ? content : [...content]).tokens.map((t) => ({
      id: t.id,
      piece: typeof t.piece === 'string' ? enc.encode(t.piece) : Uint8Array.from(t.piece),
    }));
  };
  return Object.assign(f, { calls });
}

/** The reader, the recovery and the assembler over these data payloads, as completion-stream.ts runs them. */
async function run(datas: readonly string[], maxTokens: number, pieces: PieceSource = never, stopTokenIds: number[] = []): Promise<CompletionEvent[]> {
  const reader = new LlamaChunkReader();
  async function* events() {
    for (const d of datas) yield* reader.read(d);
  }
  const out: CompletionEvent[] = [];
  for await (const ev of assembleLlamaEvents(events(), { maxTokens, stopTokenIds, pieces }, new AbortController().signal)) out.push(ev);
  return out;
}

const deltas = (evs: CompletionEvent[]) => evs.filter((e): e is CompletionDelta => e.kind === 'delta');
const idsOf = (evs: CompletionEvent[]) => deltas(evs).flatMap((d) => d.tokenIds);
const textOf = (evs: CompletionEvent[]) => deltas(evs).map((d) => d.text).join('');
const lastDelta = (evs: CompletionEvent[]) => deltas(evs).at(-1)!;
const usageOf = (evs: CompletionEvent[]) => evs.find((e) => e.kind === 'usage');

describe('LlamaChunkReader', () => {
  it('reads token events, counts the ids withheld before one, and ends at the final event', () => {
    const r = new LlamaChunkReader();
    // llama-server's "request started" event: no ids, no text.
    expect(r.read(JSON.stringify({ index: 0, content: '', tokens: [], stop: false, tokens_predicted: 0, tokens_evaluated: 20 }))).toEqual([]);
    expect(r.read(tok(10, ' a', 1))).toEqual([{ kind: 'token', text: ' a', ids: [10], withheld: 0, usage: { promptTokens: 20, cachedTokens: 0 } }]);
    // Three byte tokens of an emoji were generated and not sent; the fourth comes with all of it.
    expect(r.read(tok(253, '🦙', 5))).toMatchObject([{ kind: 'token', text: '🦙', ids: [253], withheld: 3 }]);
    expect(r.tokens).toBe(5);
    expect(r.read(fin('limit', 5))).toEqual([{ kind: 'final', stopType: 'limit', stoppingWord: '', withheld: 0, usage: { promptTokens: 20, cachedTokens: 18 } }]);
    expect(r.finished).toBe(true);
    expect(r.read(tok(11, 'late', 6))).toEqual([]);
  });

  it('a final counting ids no event carried says so; a final with content is a token event first', () => {
    const r = new LlamaChunkReader();
    r.read(tok(10, ' a', 1));
    expect(r.read(fin('limit', 3))).toMatchObject([{ kind: 'final', withheld: 2 }]);
    const single = new LlamaChunkReader().read(JSON.stringify({ content: 'a', tokens: [5], stop: true, stop_type: 'limit', tokens_predicted: 1 }));
    expect(single).toMatchObject([{ kind: 'token', text: 'a', ids: [5], withheld: 0 }, { kind: 'final', withheld: 0 }]);
  });

  it(`refuses more than ${MAX_WITHHELD_IDS} withheld ids before one id, before anything is held`, () => {
    const r = new LlamaChunkReader();
    expect(() => r.read(tok(10, 'x', MAX_WITHHELD_IDS + 2))).toThrow(UpstreamError);
    expect(new LlamaChunkReader().read(tok(10, 'x', MAX_WITHHELD_IDS + 1))).toMatchObject([{ withheld: MAX_WITHHELD_IDS }]);
    expect(() => new LlamaChunkReader().read(tok(10, 'x', 1e9))).toThrow(/did not send/);
  });

  it('an error event after the 200 is an upstream error; junk is too', () => {
    const r = new LlamaChunkReader();
    expect(() => r.read(JSON.stringify({ error: { code: 500, message: 'boom', type: 'server_error' } }))).toThrow(/^vLLM failed during generation\.$/);
    expect(() => new LlamaChunkReader().read('{nope')).toThrow(UpstreamError);
    expect(() => new LlamaChunkReader().read(JSON.stringify({ content: 'x' }))).toThrow(UpstreamError);
  });
});

describe('LlamaCompletionAssembler (vLLM semantics)', () => {
  it('holds one token back and puts the finish on the chunk with the last token', async () => {
    const evs = await run([tok(10, ' a', 1), tok(11, ' b', 2), fin('limit', 2)], 10);
    expect(evs).toEqual([
      { kind: 'delta', text: ' a', tokenIds: [10], finishReason: null, stopReason: null },
      { kind: 'delta', text: ' b', tokenIds: [11], finishReason: 'length', stopReason: null },
      { kind: 'usage', promptTokens: 20, completionTokens: 2, cachedTokens: 18 },
    ]);
  });

  it('max_tokens: the token at the limit waits for the next event; more generation means length, the final eos means stop', async () => {
    const a = new LlamaCompletionAssembler([], 2);
    const usage = { promptTokens: 20 };
    expect(a.token({ text: ' a', ids: [10], usage })).toEqual([]);
    expect(a.token({ text: ' b', ids: [11], usage })).toHaveLength(1);
    expect(a.atLimit).toBe(true);
    expect(a.done).toBe(false);
    // The tail thinkgate asked for beyond max_tokens: token 3 says the limit ended it.
    expect(a.token({ text: ' c', ids: [12], usage })).toEqual([
      { kind: 'delta', text: ' b', tokenIds: [11], finishReason: 'length', stopReason: null },
      { kind: 'usage', promptTokens: 20, completionTokens: 2 },
    ]);
    expect(a.done).toBe(true);
    // The max_tokens-th token was the EOS: stop, as vLLM's check_stop decides EOS before length.
    const evs = await run([tok(10, ' a', 1), tok(1, '', 2), fin('eos', 2)], 2);
    expect(lastDelta(evs)).toEqual({ kind: 'delta', text: '', tokenIds: [1], finishReason: 'stop', stopReason: null });
  });

  it('EOS: the EOS id stays in tokenIds, its text goes, finish stop with a null stop reason', async () => {
    const evs = await run([tok(10, ' a', 1), tok(151645, '<|im_end|>', 2), fin('eos', 2)], 10);
    expect(evs[1]).toEqual({ kind: 'delta', text: '', tokenIds: [151645], finishReason: 'stop', stopReason: null });
  });

  it('a stop token id ends the completion at that id (vLLM stop_token_ids); nothing after it is read', async () => {
    const evs = await run([tok(10, ' a', 1), tok(151668, '</think>', 2, 5), tok(12, ' c', 3)], 10, never, [151668]);
    expect(evs).toEqual([
      { kind: 'delta', text: ' a', tokenIds: [10], finishReason: null, stopReason: null },
      { kind: 'delta', text: '', tokenIds: [151668], finishReason: 'stop', stopReason: 151668 },
      { kind: 'usage', promptTokens: 20, completionTokens: 2, cachedTokens: 5 },
    ]);
  });

  it('a stop string: finish stop with the stopping word as stop reason; a server-side cancel is an abort', async () => {
    expect(lastDelta(await run([tok(10, '', 1), fin('word', 1, { stopping_word: 'END' })], 10))).toMatchObject({ tokenIds: [10], finishReason: 'stop', stopReason: 'END' });
    expect(lastDelta(await run([tok(10, 'a', 1), fin('none', 1)], 10))).toMatchObject({ finishReason: 'abort' });
  });
});

describe('ids withheld inside a multi-byte character', () => {
  const TEXT = 'a日本🦙é.';
  const chars = [...TEXT];

  /** Every way to cut each character's bytes into consecutive pieces (1 + 4 + 4 + 1 + 8 + 2 + 1 cuts: 256 spellings). */
  function* spellings(): Generator<Uint8Array[]> {
    const perChar = chars.map((c) => splits(enc.encode(c)));
    const idx = perChar.map(() => 0);
    for (;;) {
      yield perChar.flatMap((s, i) => s[idx[i]!]!);
      let k = 0;
      while (k < idx.length && ++idx[k]! === perChar[k]!.length) idx[k++] = 0;
      if (k === idx.length) return;
    }
  }
  function splits(bytes: Uint8Array): Uint8Array[][] {
    const out: Uint8Array[][] = [];
    for (let mask = 0; mask < 1 << (bytes.length - 1); mask++) {
      const parts: Uint8Array[] = [];
      let from = 0;
      for (let i = 1; i <= bytes.length; i++) {
        if (i === bytes.length || mask & (1 << (i - 1))) {
          parts.push(bytes.subarray(from, i));
          from = i;
        }
      }
      out.push(parts);
    }
    return out;
  }

  it('every split of every character, every max_tokens: exactly the sampled ids, the text of whole characters', async () => {
    let cases = 0;
    let spelled = 0;
    let recoveries = 0;
    for (const pieces of spellings()) {
      spelled++;
      // The tokenizer's own split is the one sampled: a vocabulary of exactly these pieces.
      const vocab = new ToyVocab(pieces);
      const ids = [...pieces.map((p) => vocab.add(p)), ToyVocab.EOS];
      for (let max = 1; max <= ids.length; max++) {
        const o = oracle(vocab);
        const evs = await run(llamaStream(vocab, { ids, nPredict: max + LLAMA_TAIL_TOKENS, eos: ToyVocab.EOS }), max, o);
        const kept = ids.slice(0, max);
        const label = `${pieces.map((p) => Buffer.from(p).toString('hex')).join('|')} max ${max}`;
        expect(idsOf(evs), label).toEqual(kept);
        const eosKept = kept.at(-1) === ToyVocab.EOS;
        expect(textOf(evs), label).toBe(textOfCompleteCharacters(bytesOf(vocab, eosKept ? kept.slice(0, -1) : kept)));
        expect(lastDelta(evs).finishReason, label).toBe(eosKept ? 'stop' : 'length');
        expect(usageOf(evs), label).toMatchObject({ completionTokens: max });
        // One /tokenize per completed character that had ids withheld, none for the rest.
        expect(o.calls.every((c) => typeof c === 'string'), label).toBe(true);
        recoveries += o.calls.length;
        cases++;
      }
    }
    expect(spelled).toBe(256);
    expect(cases).toBeGreaterThan(256 * 7);
    expect(recoveries).toBeGreaterThan(1000);
  });

  it('a model that spells a character in byte tokens although the vocabulary has it (SentencePiece byte fallback)', async () => {
    const vocab = new ToyVocab(['🦙', 'a']);
    const bytes = [...enc.encode('🦙')].map((b) => ToyVocab.BYTE_BASE + b);
    const ids = [vocab.add('a'), ...bytes, vocab.add('a')];
    const o = oracle(vocab);
    const evs = await run(llamaStream(vocab, { ids, nPredict: 20 }), 20, o);
    expect(idsOf(evs)).toEqual(ids);
    expect(textOf(evs)).toBe('a🦙a');
    // Its own split (one token) does not explain 4 ids; the byte tokens are asked back and check out.
    expect(o.calls).toEqual(['🦙', bytes]);
  });

  it('text held back for a stop string before the character is text of earlier ids (the lead)', async () => {
    const vocab = new ToyVocab(['<', '🦙']);
    const lt = vocab.add('<');
    const bytes = [...enc.encode('🦙')].map((b) => ToyVocab.BYTE_BASE + b);
    // '<' may start the stop string '</answer>': llama-server sends its id with no text, then the
    // emoji's bytes with the '<' in front of them.
    const datas = [tok(lt, '', 1), tok(bytes[3]!, '<🦙', 5), fin('limit', 5)];
    const o = oracle(vocab);
    const evs = await run(datas, 10, o);
    expect(idsOf(evs)).toEqual([lt, ...bytes]);
    expect(textOf(evs)).toBe('<🦙');
    const r = await recoverWithheld('<🦙', [bytes[3]!], 3, oracle(vocab), new AbortController().signal);
    expect(Buffer.from(r.lead).toString()).toBe('<');
  });

  it('a stop id inside a recovered group keeps what came before it', async () => {
    const vocab = new ToyVocab(['</think>']);
    const stop = vocab.add('</think>');
    const e = [...enc.encode('é')].map((b) => ToyVocab.BYTE_BASE + b);
    // The stop token's text rendered after half a character: invalid, the group cannot be trusted.
    await expect(run([tok(e[0]!, '\ufffd</think>', 2)], 10, oracle(vocab), [stop])).rejects.toThrow(UpstreamError);
    // A stop id as the completing token after a whole character: the character is text, the stop's is not.
    const evs = await run([tok(e[1]!, 'é', 2), tok(stop, '</think>', 3)], 10, oracle(vocab), [stop]);
    expect(idsOf(evs)).toEqual([...e, stop]);
    expect(textOf(evs)).toBe('é');
  });

  it('never a guess: a split neither the tokenizer nor byte tokens explain is an upstream error', async () => {
    // The vocabulary has the emoji; the model sampled it in two 2-byte pieces.
    const vocab = new ToyVocab(['🦙']);
    const b = enc.encode('🦙');
    const ids = [vocab.add(b.subarray(0, 2)), vocab.add(b.subarray(2))];
    await expect(run(llamaStream(vocab, { ids, nPredict: 10 }), 10, oracle(vocab))).rejects.toThrow(/could not recover/);
  });

  it('invalid UTF-8 from the model (llama-server writes U+FFFD) is an upstream error, not a wrong id', async () => {
    const vocab = new ToyVocab(['ab']);
    // A lead byte, then ASCII: llama-server sees the end "inside" a character until 2 bytes follow.
    const ids = [ToyVocab.BYTE_BASE + 0xe6, ToyVocab.BYTE_BASE + 0x61, ToyVocab.BYTE_BASE + 0x62];
    const datas = llamaStream(vocab, { ids, nPredict: 10 });
    expect(JSON.parse(datas[0]!)).toMatchObject({ content: '\ufffdab', tokens_predicted: 3 });
    await expect(run(datas, 10, oracle(vocab))).rejects.toThrow(/could not recover/);
  });
});

describe('hostile llama-server: clean UpstreamErrors, bounded holding', () => {
  const vocab = new ToyVocab(['日']);
  const e = [...enc.encode('日')].map((b) => ToyVocab.BYTE_BASE + b);

  it('ids that never come: the final event inside a character, the stream cut at n_predict without the tail', async () => {
    // Without the tail tokens llama-server stops inside the character: its ids and bytes are gone.
    const datas = llamaStream(vocab, { ids: [vocab.add('a'), ...e], nPredict: 2 });
    await expect(run(datas, 2, oracle(vocab))).rejects.toThrow(/inside a multi-byte character: 1 token id\(s\) were never sent/);
    // The same ids past max_tokens: nothing lost that the engine would get.
    expect(idsOf(await run(datas, 1, oracle(vocab)))).toEqual([vocab.add('a')]);
  });

  it('a count that lies: no /tokenize is asked for more than a character can hold', async () => {
    const o = oracle(vocab);
    await expect(run([tok(e[2]!, '日', 1000)], 10, o)).rejects.toThrow(UpstreamError);
    expect(o.calls).toEqual([]);
    // Within the bound, text that cannot hold that many ids: asked once, refused.
    await expect(run([tok(e[2]!, '日', MAX_WITHHELD_IDS + 1)], 10, o)).rejects.toThrow(/could not recover/);
  });

  it('garbage from /tokenize: wrong ids, wrong pieces, missing tokens, a failure', async () => {
    const datas = [tok(e[2]!, '日', 3), fin('limit', 3)];
    const answers: TokenPiece[][] = [
      [], // nothing
      [{ id: 5, piece: enc.encode('日') }], // one token where three were generated
      e.map((id) => ({ id: id + 1, piece: Uint8Array.of(0) })), // ids that do not end with the sent one
      e.map((id) => ({ id, piece: enc.encode('xx') })), // pieces that are not the text
    ];
    for (const answer of answers) {
      const pieces: PieceSource = async () => answer;
      await expect(run(datas, 10, pieces)).rejects.toThrow(UpstreamError);
    }
    const failing: PieceSource = () => Promise.reject(new UpstreamError('llama-server answered POST /tokenize with HTTP 500.'));
    await expect(run(datas, 10, failing)).rejects.toThrow(/HTTP 500/);
  });

  it('a withheld group with more text than a stop string and a character can hold is refused before /tokenize', async () => {
    const o = oracle(vocab);
    await expect(recoverWithheld('x'.repeat(9000) + '日', [e[2]!], 2, o, new AbortController().signal)).rejects.toThrow(UpstreamError);
    expect(o.calls).toEqual([]);
  });
});

describe('utf8 at token boundaries', () => {
  it("endsInsideCharacter is llama-server's validate_utf8", () => {
    const b = (...x: number[]) => Uint8Array.from(x);
    expect(endsInsideCharacter(b())).toBe(false);
    expect(endsInsideCharacter(b(0xe6))).toBe(true);
    expect(endsInsideCharacter(b(0xe6, 0x97))).toBe(true);
    expect(endsInsideCharacter(b(0xe6, 0x97, 0xa5))).toBe(false);
    expect(endsInsideCharacter(b(0xf0, 0x9f, 0xa6))).toBe(true);
    // Only the lead byte's distance counts, as in llama-server: not whether continuations follow.
    expect(endsInsideCharacter(b(0xe6, 0x61))).toBe(true);
    expect(endsInsideCharacter(b(0xe6, 0x61, 0x62))).toBe(false);
  });

  it('textOfCompleteCharacters leaves out an open character only', () => {
    for (const s of ['', 'a', '日', '🦙', 'é']) {
      const full = enc.encode(`x${s}`);
      expect(textOfCompleteCharacters(full)).toBe(`x${s}`);
      for (let cut = 2; cut < full.length; cut++) expect(textOfCompleteCharacters(full.subarray(0, cut))).toBe('x');
    }
    expect(pieceJson(Uint8Array.of(0xe6))).toEqual([0xe6]);
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
