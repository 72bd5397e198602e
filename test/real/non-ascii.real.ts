/**
 * Issue 13, item 9: non-ASCII text on llama.cpp, with real weights. Gemma 3 270M
 * (fetch-gemma.sh) is no reasoning model, but it writes real text with a real 262k-token
 * SentencePiece vocabulary that has no token for 🦙: it writes the emoji as four byte tokens,
 * three of which llama-server withholds (src/backends/llamacpp/chunk-reader.ts). thinkgate opens
 * the thinking (think-tags), so a small max_thinking_tokens forces a close, here inside an emoji.
 *
 * Exactness is checked against the server itself: the recording proxy's stream (which positions
 * llama-server sent ids for, and its text), the continuation prompt the gateway built (it holds
 * the thinking ids thinkgate recovered), and llama-server's /tokenize. Greedy sampling
 * (temperature 0): the same prompt gives the same text, so the second request can aim its
 * max_completion_tokens inside a character of the answer the first one saw.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, tokenizeOn, type RealStack } from './stack.js';
import { llamaStreamOf, segmentOf, type LlamaStream, type Segment } from './transcript.js';
import type { RealBackend } from './backends.js';
import { endsInsideCharacter, textOfCompleteCharacters } from '../../src/backends/llamacpp/utf8.js';

const gemma = inject('realGemma');
const PROMPT = '请重复这句话：🦙🦙🦙 こんにちは 🦙🦙🦙';
const M = 7;
const enc = new TextEncoder();

interface Reply {
  status: number;
  reasoning: string;
  content: string;
  finish: string | null;
  usage: { completion_tokens: number; completion_tokens_details: { reasoning_tokens: number } };
  bf: { thinking_tokens: number; truncated: boolean; segments: number };
  segs: Segment[];
  streams: LlamaStream[];
}

/** Each id with its piece's bytes, from llama-server's /tokenize with_pieces. */
async function piecesOn(b: RealBackend, ids: number[]): Promise<Uint8Array[]> {
  const res = await fetch(`${b.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: ids, with_pieces: true }) });
  const json = (await res.json()) as { tokens: Array<{ id: number; piece: string | number[] }> };
  expect(json.tokens.map((t) => t.id)).toEqual(ids);
  return json.tokens.map((t) => (typeof t.piece === 'string' ? enc.encode(t.piece) : Uint8Array.from(t.piece)));
}

const join = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
/** Positions below `upTo` that llama-server generated and did not send. */
const withheldIn = (s: LlamaStream, upTo: number): number[] => [...Array(Math.min(upTo, s.predicted)).keys()].filter((p) => !s.sent.has(p));
/** Where the withheld run that ends at position upTo - 1 starts: the ids before it hold whole characters. */
function openFrom(s: LlamaStream, upTo: number): number {
  let p = upTo;
  while (p > 0 && !s.sent.has(p - 1)) p--;
  return p;
}

describe.skipIf(gemma === null)('llama.cpp, Gemma 3 270M: non-ASCII text', () => {
  const backend = gemma!;
  let stack: RealStack;
  let forcedClose: number[];
  let opened: number[];

  beforeAll(async () => {
    stack = await startRealStack(backend);
    forcedClose = await tokenizeOn(backend, '\n</think>\n\n');
    opened = await tokenizeOn(backend, '<think>\n');
  });
  afterAll(async () => stack?.close());

  async function ask(maxCompletion: number, stream: boolean): Promise<Reply> {
    const from = stack.proxy.exchanges.length;
    const body = { model: backend.model, messages: [{ role: 'user', content: PROMPT }], temperature: 0, seed: 1, max_thinking_tokens: M, max_completion_tokens: maxCompletion };
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(stream ? { ...body, stream: true, stream_options: { include_usage: true } } : body),
    });
    const text = await res.text();
    const exchanges = stack.proxy.since(from, '/completion');
    const segs = exchanges.map((ex) => segmentOf('llamacpp', ex));
    const streams = exchanges.map(llamaStreamOf);
    if (!stream) {
      const j = res.status === 200 ? JSON.parse(text) : { error: text };
      if (res.status !== 200) return { status: res.status, reasoning: '', content: '', finish: null, usage: j.usage, bf: j.budget_forcing, segs, streams };
      const ch = j.choices[0];
      return { status: res.status, reasoning: ch.message.reasoning_content ?? '', content: ch.message.content ?? '', finish: ch.finish_reason, usage: j.usage, bf: j.budget_forcing, segs, streams };
    }
    const chunks = text.split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]').map((l) => JSON.parse(l.slice(6)) as Record<string, any>);
    expect(chunks.some((c) => 'error' in c), text).toBe(false);
    const last = chunks[chunks.length - 1]!;
    const deltas = chunks.flatMap((c) => c.choices as any[]);
    return {
      status: res.status,
      reasoning: deltas.map((d) => d.delta?.reasoning_content ?? '').join(''),
      content: deltas.map((d) => d.delta?.content ?? '').join(''),
      finish: deltas.map((d) => d.finish_reason).find((f) => f != null) ?? null,
      usage: last.usage,
      bf: last.budget_forcing,
      segs,
      streams,
    };
  }

  let first: Reply;

  it('a forced close inside an emoji: 200, the thinking is exactly M sampled ids and the continuation carries them', async () => {
    const t0 = Date.now();
    first = await ask(40, false);
    console.log(`[real] gemma forced close: ${Date.now() - t0} ms, ${JSON.stringify({ reasoning: first.reasoning, content: first.content })}`);
    expect(first.status).toBe(200);
    expect(first.bf).toMatchObject({ thinking_tokens: M, truncated: true, segments: 2 });
    expect(first.usage.completion_tokens_details.reasoning_tokens).toBe(M);
    const [think, answer] = first.segs as [Segment, Segment];
    const [thinkStream] = first.streams as [LlamaStream];
    // The thinking segment asked for M, plus the tail that lets a character open at M complete.
    expect(think.maxTokens).toBe(M);
    expect(think.prompt.slice(-opened.length)).toEqual(opened);
    // The continuation: the first prompt, the M ids thinkgate kept, the forced close.
    expect(answer.prompt.slice(0, think.prompt.length)).toEqual(think.prompt);
    const kept = answer.prompt.slice(think.prompt.length, think.prompt.length + M);
    expect(answer.prompt.slice(think.prompt.length + M)).toEqual(forcedClose);
    // Where llama-server sent an id, it is that id; where it withheld one, the recovered ids'
    // pieces are exactly the bytes it streamed there. And the span ends inside a character.
    for (const [pos, id] of thinkStream.sent) if (pos < M) expect(kept[pos], `position ${pos}`).toBe(id);
    const withheld = withheldIn(thinkStream, M);
    expect(withheld.length).toBeGreaterThan(0);
    const bytes = join(await piecesOn(backend, kept));
    expect([...enc.encode(thinkStream.text).subarray(0, bytes.length)]).toEqual([...bytes]);
    expect(endsInsideCharacter(bytes)).toBe(true);
    // The thinking text is the whole characters of those ids, as llama-server's tokenizer reads them.
    expect(first.reasoning).toBe(textOfCompleteCharacters(bytes));
    expect(first.reasoning).toMatch(/[^\x00-\x7f]/);
    expect(await tokenizeOn(backend, first.reasoning)).toEqual(kept.slice(0, openFrom(thinkStream, M)));
    // The answer: non-ASCII text; every id counted once.
    expect(first.content).toMatch(/🦙/u);
    const answerIds = first.usage.completion_tokens - opened.length - M - forcedClose.length;
    expect(answerIds).toBeGreaterThan(0);
    expect(answerIds).toBeLessThanOrEqual(answer.maxTokens);
  });

  it('an answer that ends inside a character at max_tokens (streamed): exactly that many ids, the open character left out', async () => {
    // Aim the answer's max_tokens at an id the first run's answer stream withheld, halfway: whole
    // emoji come before it, and it asks for fewer ids than the first run had room for.
    const answerStream = first.streams[1]!;
    const room = first.segs[1]!.maxTokens;
    const withheld = withheldIn(answerStream, room);
    expect(withheld.length, 'the first answer wrote emoji in byte tokens').toBeGreaterThan(3);
    const r = withheld[Math.floor(withheld.length / 2)]! + 1; // the r-th answer id is withheld: max_tokens falls inside that character
    expect(r).toBeLessThan(room);
    const t0 = Date.now();
    const second = await ask(M + r, true);
    console.log(`[real] gemma answer cut at ${r} ids (streamed): ${Date.now() - t0} ms, ${JSON.stringify({ content: second.content })}`);
    expect(second.status).toBe(200);
    expect(second.finish).toBe('length');
    expect(second.bf).toMatchObject({ thinking_tokens: M, truncated: true });
    expect(second.reasoning).toBe(first.reasoning);
    const answerSeg = second.segs[1]!;
    expect(answerSeg.maxTokens).toBe(r);
    const s = second.streams[1]!;
    // The server generated past r (the tail) to complete the character; thinkgate kept r ids.
    expect(s.sent.has(r - 1)).toBe(false);
    expect(s.predicted).toBeGreaterThan(r);
    expect(second.usage.completion_tokens).toBe(opened.length + M + forcedClose.length + r);
    // The text is the stream's up to the open character: whole characters only, a prefix of what the server wrote.
    expect(s.text.startsWith(second.content)).toBe(true);
    expect(second.content).toMatch(/🦙/u);
    // Gemma spells 🦙 in four byte tokens, its own split too: the text is the r ids less the open
    // character's bytes, as llama-server's tokenizer reads it; where the server sent ids, they are those.
    const ids = await tokenizeOn(backend, second.content);
    const openAt = openFrom(s, r);
    expect(openAt).toBeLessThan(r);
    expect(ids).toHaveLength(openAt);
    for (const [pos, id] of s.sent) if (pos < openAt) expect(ids[pos], `position ${pos}`).toBe(id);
  });
});
