/**
 * The simulator's evaluator-facing endpoints, as lm-evaluation-harness 0.4.13 uses them:
 * GET /tokenizer_info (RemoteTokenizer), /tokenize and /detokenize, and /v1/completions with
 * `echo` + `logprobs` (local-completions loglikelihood), with vLLM's field names
 * (vllm/entrypoints/openai/protocol.py CompletionLogProbs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderChatTemplate } from '../../src/sim/chat-template.js';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { JINJA_CHAT_TEMPLATES } from '../../src/sim/tokenizer-info.js';

const DATA = join(import.meta.dirname, '../../examples/arith/arith-word-problems.jsonl');
const items = readFileSync(DATA, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; question: string; answer: number });

interface Logprobs {
  text_offset: number[];
  token_logprobs: (number | null)[];
  tokens: string[];
  top_logprobs: (Record<string, number> | null)[];
}
interface Choice { index: number; text: string; logprobs: Logprobs | null; finish_reason: string }

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}
const tokenize = async (prompt: string): Promise<number[]> => (await post('/tokenize', { prompt, add_special_tokens: false })).json.tokens;

/** lm-eval's parse_logprobs: sum of token_logprobs[ctxlen:-1], greedy when each is its top's max. */
function lmEvalScore(c: Choice, ctxlen: number): [number, boolean] {
  const lps = c.logprobs!.token_logprobs.slice(ctxlen, -1) as number[];
  const tops = c.logprobs!.top_logprobs.slice(ctxlen, -1) as Record<string, number>[];
  return [lps.reduce((a, b) => a + b, 0), lps.every((lp, i) => lp === Math.max(...Object.values(tops[i]!)))];
}

describe('GET /tokenizer_info', () => {
  it('has what lm-eval RemoteTokenizer reads, and the template renders as the simulator does', async () => {
    const res = await fetch(`${sim.url}/tokenizer_info`);
    expect(res.status).toBe(200);
    const info = (await res.json()) as Record<string, unknown>;
    expect(info).toMatchObject({ eos_token: '<|im_end|>', bos_token: null, pad_token: '<|endoftext|>', tokenizer_class: 'Qwen2TokenizerFast', model_max_length: 8192 });
    expect(info.chat_template).toBe(JINJA_CHAT_TEMPLATES.r1);
    // The eos token is one token of the simulator's vocabulary (RemoteTokenizer.eos_token_id).
    expect(await tokenize('<|im_end|>')).toEqual([2]);
    const other = (await (await fetch(`${sim.url}/tokenizer_info?model=sim-qwen3`)).json()) as { chat_template: string };
    expect(other.chat_template).toBe(JINJA_CHAT_TEMPLATES.qwen3);
    expect((await fetch(`${sim.url}/tokenizer_info?model=nope`)).status).toBe(404);
  });

  it('the jinja templates spell the TS renderer (literal parts, in order)', () => {
    const msgs = [{ role: 'user', content: 'Q' }];
    // Expands the one loop iteration by hand (no jinja engine in Node); the real jinja2 3.1.6 render
    // with lm-eval's Environment was compared to renderChatTemplate when this was written.
    const expand = (t: string, gen: boolean, thinkingOff = false): string =>
      t
        .replace(/\{% for message in messages %\}(.*?)\{% endfor %\}/s, (_, body: string) =>
          body.replace("{{ message['role'] }}", 'user').replace("{{ message['content'] }}", 'Q'))
        .replace(/\{% if enable_thinking is defined and enable_thinking is false %\}(.*?)\{% endif %\}/s, (_, b: string) => (thinkingOff ? b : ''))
        .replace(/\{% if add_generation_prompt %\}(.*?)\{% endif %\}/s, (_, b: string) => (gen ? b : ''));
    for (const kind of ['r1', 'qwen3', 's1'] as const) {
      for (const gen of [true, false]) {
        expect(expand(JINJA_CHAT_TEMPLATES[kind], gen)).toBe(renderChatTemplate(msgs, { kind, addGenerationPrompt: gen }));
      }
    }
    expect(expand(JINJA_CHAT_TEMPLATES.qwen3, true, true)).toBe(
      renderChatTemplate(msgs, { kind: 'qwen3', chatTemplateKwargs: { enable_thinking: false } }),
    );
  });

  it('/tokenize {prompt, add_special_tokens: false} -> tokens; /detokenize {tokens} -> {prompt}', async () => {
    const t = await post('/tokenize', { prompt: 'test', add_special_tokens: false });
    expect(t.status).toBe(200);
    expect(Array.isArray(t.json.tokens)).toBe(true);
    const d = await post('/detokenize', { tokens: t.json.tokens });
    expect(d.json).toEqual({ prompt: 'test' });
  });
});

describe('/v1/completions logprobs (simulated values, vLLM shape)', () => {
  it('echo + logprobs: prompt tokens included, first logprob null, offsets into the text', async () => {
    const r = await post('/v1/completions', { model: 'sim-r1', prompt: 'Hello world. The answer is', echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
    expect(r.status).toBe(200);
    const c = r.json.choices[0] as Choice;
    const lp = c.logprobs!;
    expect(Object.keys(lp).sort()).toEqual(['text_offset', 'token_logprobs', 'tokens', 'top_logprobs']);
    const promptIds = await tokenize('Hello world. The answer is');
    expect(lp.tokens).toHaveLength(promptIds.length + 1);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.top_logprobs[0]).toBeNull();
    expect(lp.text_offset[0]).toBe(0);
    for (let i = 0; i < lp.tokens.length; i++) {
      expect(c.text.slice(lp.text_offset[i], lp.text_offset[i]! + lp.tokens[i]!.length)).toBe(lp.tokens[i]);
      if (i > 0) {
        expect(lp.token_logprobs[i]).toBeLessThan(0);
        expect(lp.top_logprobs[i]![lp.tokens[i]!]).toBe(lp.token_logprobs[i]);
      }
    }
    expect(c.text.startsWith('Hello world. The answer is')).toBe(true);
  });

  it('batched prompts (strings and id lists): one choice per prompt, index = position', async () => {
    const ids = await tokenize('Hello world');
    const r = await post('/v1/completions', { prompt: ['What is', ids, 'yes no'], echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
    expect(r.status).toBe(200);
    const cs = r.json.choices as Choice[];
    expect(cs.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(cs[1]!.logprobs!.tokens.length).toBe(ids.length + 1);
    expect(cs[1]!.text.startsWith('Hello world')).toBe(true);
  });

  it('a loglikelihood multiple choice over the word problems scores acc 1.0, as lm-eval computes it', async () => {
    let right = 0;
    for (const it of items) {
      const ctx = `Question: ${it.question}\nAnswer:`;
      const ctxIds = await tokenize(ctx);
      const conts = [it.answer, it.answer + 3, Math.max(0, it.answer - 7) === it.answer ? it.answer + 11 : it.answer - 7, it.answer * 10 + 1];
      const prompts = await Promise.all(conts.map(async (a) => [...ctxIds, ...(await tokenize(` ${a}`))]));
      const r = await post('/v1/completions', { model: 'sim-r1', prompt: prompts, echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
      const scores = (r.json.choices as Choice[]).map((c) => lmEvalScore(c, ctxIds.length));
      const best = scores.indexOf(scores.reduce((a, b) => (b[0] > a[0] ? b : a)));
      if (best === 0 && scores[0]![1]) right++;
      expect(scores.slice(1).every((s) => s[1] === false)).toBe(true);
    }
    expect(right).toBe(items.length);
  });

  it('logprobs on ordinary generation (no echo): generated tokens only; also streamed', async () => {
    const r = await post('/v1/completions', { prompt: 'What is 6 x 7?', logprobs: 2, max_tokens: 5 });
    const c = r.json.choices[0] as Choice;
    expect(c.logprobs!.tokens.join('')).toBe(c.text);
    expect(c.logprobs!.token_logprobs.every((x) => x !== null && x < 0)).toBe(true);
    expect(c.logprobs!.top_logprobs.every((t) => Object.keys(t!).length === 2)).toBe(true);
    const res = await fetch(`${sim.url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'What is 6 x 7?', logprobs: 2, max_tokens: 5, stream: true }),
    });
    const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
    const streamed = events.flatMap((e) => e.choices.map((ch: Choice) => ch.logprobs!));
    expect(streamed.flatMap((l: Logprobs) => l.token_logprobs)).toEqual(c.logprobs!.token_logprobs);
    expect(streamed.flatMap((l: Logprobs) => l.text_offset)).toEqual(c.logprobs!.text_offset);
    expect((await post('/v1/completions', { prompt: 'x', logprobs: 21, max_tokens: 1 })).status).toBe(400);
  });

  it('without logprobs the response is unchanged (logprobs: null)', async () => {
    const r = await post('/v1/completions', { prompt: 'What is 6 x 7?', max_tokens: 3 });
    expect(r.json.choices[0].logprobs).toBeNull();
  });
});
