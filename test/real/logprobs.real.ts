/**
 * Differential logprobs test against real vLLM (issue 13, item 4): thinkgate's chat
 * `logprobs.content` against vLLM's own chat endpoint, and, with budgets, against what vLLM
 * itself streamed for each segment (read from the recording proxy). vLLM only: llama.cpp-backed
 * models refuse logprobs (docs/api.md, "Logprobs"), which is checked too.
 *
 * Without budgets the request is one segment, so the tokens and logprobs must be vLLM's chat
 * endpoint's for the same prompt, within 1e-5 (float32 on the CPU; the requests may batch
 * differently). Qwen3's template never leaves thinking open, so thinkgate inserts `<think>\n`
 * (prompt, no logprob) where vLLM's chat prompt has none: the same prompt on both sides exists only
 * with enable_thinking: false. With thinking (with and without budgets) every entry is checked
 * against vLLM's own logprob of the same id at the same position, as the proxy recorded it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, tokenizeOn, type RealStack } from './stack.js';
import { COMPLETION_PATH } from './transcript.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Top {
  token: string;
  logprob: number;
  bytes: number[] | null;
}
interface Entry extends Top {
  top_logprobs: Top[];
}

const all = inject('realBackends');
const vllm = all.filter((b) => b.kind === 'vllm');
const llama = all.filter((b) => b.kind === 'llamacpp');
const TOL = 1e-5;
const K = 5;

async function postJson(url: string, body: Json): Promise<{ status: number; json: Json }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(170_000) });
  return { status: res.status, json: (await res.json()) as Json };
}

function sseData(text: string): Json[] {
  const out: Json[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const d = line.slice(5).trim();
    if (d === '' || d === '[DONE]') continue;
    try {
      out.push(JSON.parse(d) as Json);
    } catch {
      // a line cut by a hang-up
    }
  }
  return out;
}

/** Same token and logprob within TOL; the alternatives the same set within TOL (see the note on duplicates). */
function expectSameEntry(got: Entry, want: Entry, where: string): boolean {
  expect(got.token, where).toBe(want.token);
  expect(Math.abs(got.logprob - want.logprob), `${where}: ${got.logprob} vs ${want.logprob}`).toBeLessThanOrEqual(TOL);
  expect(got.bytes, where).toEqual(want.bytes);
  // vLLM's completions answer keys alternatives by text: two that decode alike arrive as one.
  const texts = want.top_logprobs.map((t) => t.token);
  if (new Set(texts).size !== texts.length) return false;
  expect(got.top_logprobs.map((t) => t.token).sort(), where).toEqual([...texts].sort());
  for (const t of got.top_logprobs) {
    const w = want.top_logprobs.find((x) => x.token === t.token)!;
    expect(Math.abs(t.logprob - w.logprob), `${where} top ${JSON.stringify(t.token)}`).toBeLessThanOrEqual(TOL);
    expect(t.bytes).toEqual([...Buffer.from(t.token, 'utf8')]);
  }
  return true;
}

describe.skipIf(vllm.length === 0).each(vllm)('$label: logprobs', (backend) => {
  let stack: RealStack;
  let open: number[];

  beforeAll(async () => {
    stack = await startRealStack(backend);
    open = await tokenizeOn(backend, '<think>\n');
  });
  afterAll(async () => stack?.close());

  const messages = [{ role: 'user', content: 'What is 6 x 7? Think it over.' }];
  const base = { model: backend.model, messages, temperature: 0, logprobs: true, top_logprobs: K };

  it('without budgets: the same tokens and logprobs as vLLM\'s own chat endpoint, for the same prompt', async () => {
    // Qwen3's template never leaves thinking open (it closes an empty one for enable_thinking:
    // false, and opens none otherwise, so thinkgate inserts `<think>\n`): the one request whose
    // prompt is the same on both sides is enable_thinking: false (thinkgate starts in the answer).
    const N = 48;
    const req = { ...base, max_tokens: N, chat_template_kwargs: { enable_thinking: false } };
    const from = stack.proxy.exchanges.length;
    const gw = await postJson(`${stack.url}/v1/chat/completions`, req);
    const direct = await postJson(`${backend.url}/v1/chat/completions`, req);
    expect(gw.status).toBe(200);
    expect(direct.status).toBe(200);
    const [seg] = stack.proxy.since(from, COMPLETION_PATH.vllm);
    const tok = await postJson(`${backend.url}/tokenize`, { model: backend.model, messages, add_generation_prompt: true, chat_template_kwargs: { enable_thinking: false } });
    expect((seg!.body as Json).prompt).toEqual(tok.json.tokens);
    expect(gw.json.budget_forcing.segments).toBe(1);
    const g = gw.json.choices[0].logprobs.content as Entry[];
    const d = direct.json.choices[0].logprobs.content as Entry[];
    expect(g.length).toBe(d.length);
    expect(g.length).toBeGreaterThan(0);
    let alternatives = 0;
    for (let i = 0; i < g.length; i++) if (expectSameEntry(g[i]!, d[i]!, `entry ${i}`)) alternatives++;
    if (process.env['THINKGATE_REAL_VERBOSE']) console.log(`[logprobs] ${g.length} entries, alternatives compared on ${alternatives}`);
    expect(alternatives).toBeGreaterThan(0);
    // The same text (vLLM may run a reasoning parser: compare thinking and answer together).
    const said = (m: Json) => `${m.reasoning_content ?? m.reasoning ?? ''}${m.content ?? ''}`;
    expect(said(gw.json.choices[0].message)).toBe(said(direct.json.choices[0].message));
  });

  for (const [name, extra] of [
    ['no budget, thinking open', { max_tokens: 64 }],
    ['max_thinking_tokens (forced close)', { max_thinking_tokens: 12, max_tokens: 40 }],
    ['min_thinking_tokens (extensions)', { min_thinking_tokens: 400, max_thinking_extensions: 2, max_tokens: 520 }],
  ] as const) {
    for (const stream of [false, true]) {
      it(`${name}${stream ? ', stream' : ''}: each entry is vLLM's own logprob of a kept generated id; inserted and dropped ids have none`, async () => {
        const from = stack.proxy.exchanges.length;
        const body = { ...base, ...extra, temperature: 1, top_p: 1, seed: 11, ...(stream ? { stream: true } : {}) };
        const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(res.status).toBe(200);
        const text = await res.text();
        let got: Entry[];
        if (stream) {
          got = sseData(text).flatMap((c) => ((c.choices?.[0]?.logprobs?.content ?? []) as Entry[]));
        } else {
          got = (JSON.parse(text) as Json).choices[0].logprobs.content as Entry[];
        }
        // What vLLM generated, by position in the token sequence; later segments overwrite dropped tails.
        const byPos = new Map<number, { id: number; token: string; logprob: number; top: Record<string, number> }>();
        let transcript: number[] = [];
        let first = -1;
        for (const ex of stack.proxy.since(from, COMPLETION_PATH.vllm)) {
          const prompt = (ex.body as { prompt: number[]; logprobs?: number }).prompt;
          expect((ex.body as Json).logprobs).toBe(K);
          if (first === -1) first = prompt.length;
          let pos = prompt.length;
          const gen: number[] = [];
          for (const c of sseData(ex.response)) {
            for (const ch of (c.choices ?? []) as Json[]) {
              const ids = (ch.token_ids ?? []) as number[];
              ids.forEach((id, j) => {
                byPos.set(pos++, { id, token: ch.logprobs.tokens[j], logprob: ch.logprobs.token_logprobs[j], top: ch.logprobs.top_logprobs[j] });
                gen.push(id);
              });
            }
          }
          transcript = [...prompt, ...gen];
        }
        const want: { token: string; logprob: number; top: Record<string, number> }[] = [];
        for (let p = first; p < transcript.length; p++) {
          const e = byPos.get(p);
          if (e !== undefined && e.id === transcript[p]) want.push(e);
        }
        expect(got.map((e) => e.token)).toEqual(want.map((e) => e.token));
        got.forEach((e, i) => {
          expect(e.logprob).toBe(Math.max(want[i]!.logprob, -9999));
          const keys = Object.keys(want[i]!.top);
          expect(e.top_logprobs.length).toBe(Math.min(K, keys.length));
          for (const t of e.top_logprobs) expect(t.logprob).toBe(want[i]!.top[t.token]);
        });
        // The inserted ids are really absent: the entries are fewer than the completion tokens by them.
        if (!stream) {
          const j = JSON.parse(text) as Json;
          expect(got.length).toBeLessThan(j.usage.completion_tokens);
          // The scenario happened: a forced close, or an extension whose dropped close has no entry.
          if ('max_thinking_tokens' in extra) expect(j.budget_forcing.truncated).toBe(true);
          if ('min_thinking_tokens' in extra) {
            expect(j.budget_forcing.extensions).toBeGreaterThanOrEqual(1);
            expect(byPos.size).toBeGreaterThan(want.length);
          }
        }
      });
    }
  }
});

describe.skipIf(llama.length === 0).each(llama)('$label: logprobs', (backend) => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  it('are refused with a 400 naming logprobs', async () => {
    const r = await postJson(`${stack.url}/v1/chat/completions`, { model: backend.model, messages: [{ role: 'user', content: 'Hi' }], logprobs: true, max_tokens: 8 });
    expect(r.status).toBe(400);
    expect(r.json.error.param).toBe('logprobs');
  });
});
