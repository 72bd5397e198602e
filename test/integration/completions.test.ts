/**
 * POST /v1/completions end to end (issue 7): openai SDK -> thinkgate -> vLLM simulator.
 * Generation is budget forced on the raw, already templated prompt and `text` is the whole
 * transcript; scoring requests and the tokenizer routes are relayed to the simulator unchanged.
 * The simulator thinks 30 tokens by itself, 10 after each "Wait", answers in 12.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { countTokens, startStack, until, type Stack } from '../support/stack.js';

interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}
type Completion = OpenAI.Completion & { budget_forcing: BudgetForcing; choices: Array<OpenAI.CompletionChoice & { budget_forcing?: BudgetForcing }> };

/** What an R1-style template renders for one user turn, up to the assistant's turn (thinking not opened). */
const RAW = '<|im_start|>user\nWhat is 6 x 7?<|im_end|>\n<|im_start|>assistant\n';
/** The same, with thinking opened by the template (R1, QwQ). */
const OPENED = `${RAW}<think>\n`;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());

async function complete(body: Record<string, unknown>): Promise<Completion> {
  return (await stack.client.completions.create({ model: 'sim-r1', temperature: 0, max_tokens: 500, ...body } as never)) as unknown as Completion;
}

async function post(path: string, body: unknown, base = stack.url): Promise<{ status: number; relay: string | null; json: Record<string, unknown> }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, relay: res.headers.get('x-thinkgate-relay'), json: (await res.json()) as Record<string, unknown> };
}

/** The thinking between the opening and the end delimiter of a transcript. */
const thinkingOf = (text: string): string => text.slice(text.indexOf('<think>\n') === 0 ? '<think>\n'.length : 0, text.indexOf('</think>'));

describe('/v1/completions: budget forcing on raw prompts', () => {
  it('opens thinking when the prompt does not, and returns thinking, delimiters and answer as text', async () => {
    const res = await complete({ prompt: RAW });
    const text = res.choices[0]!.text;
    expect(res.object).toBe('text_completion');
    expect(text.startsWith('<think>\n')).toBe(true);
    expect(text).toMatch(/<\/think>\n\nThe answer is 42/);
    expect(res.budget_forcing).toEqual({ thinking_tokens: 30, extensions: 0, truncated: false, segments: 1 });
    expect(res.usage?.completion_tokens_details?.reasoning_tokens).toBe(30);
    // The text is the generated ids, token for token: count + the final EOS (not text) = completion_tokens.
    expect((await countTokens(stack.sim, text)) + 1).toBe(res.usage!.completion_tokens);
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  it('continues a prompt that already ends inside thinking, without a second opening', async () => {
    const res = await complete({ prompt: OPENED });
    expect(res.choices[0]!.text.startsWith('<think>')).toBe(false);
    expect(await countTokens(stack.sim, thinkingOf(res.choices[0]!.text))).toBe(30);
  });

  it('max_thinking_tokens cuts thinking at exactly M and the forced close is in the text', async () => {
    const res = await complete({ prompt: OPENED, max_thinking_tokens: 10 });
    const text = res.choices[0]!.text;
    expect(res.budget_forcing).toEqual({ thinking_tokens: 10, extensions: 0, truncated: true, segments: 2 });
    expect(text).toContain('\n</think>\n\n');
    expect(await countTokens(stack.sim, text.slice(0, text.indexOf('\n</think>')))).toBe(10);
    expect(text).toMatch(/The answer is 42/);
  });

  it('min_thinking_tokens extends with Wait, which stays in the text where it was inserted', async () => {
    const res = await complete({ prompt: OPENED, min_thinking_tokens: 50 });
    const thinking = thinkingOf(res.choices[0]!.text);
    // 30, Wait, 10, Wait, 10: vLLM stops on </think> (stop_token_ids) while m is unmet, so the answer is a 4th segment.
    expect(res.budget_forcing).toEqual({ thinking_tokens: 52, extensions: 2, truncated: false, segments: 4 });
    expect(thinking.split('Wait').length - 1).toBe(2);
    expect(await countTokens(stack.sim, thinking)).toBe(52);
  });

  it('stop strings cut the answer only, never the thinking (docs/budget-forcing.md rule 6; lm-eval sends until=["\\n\\n"])', async () => {
    const res = await complete({ prompt: OPENED, stop: ['\n', 'Question:'] });
    const text = res.choices[0]!.text;
    expect(await countTokens(stack.sim, thinkingOf(text))).toBe(30);
    expect(thinkingOf(text)).toContain('\n'); // the thinking has line breaks that did not stop it
    expect(text.endsWith('</think>')).toBe(true); // the answer begins with "\n\n": cut at once
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  it('max_tokens defaults to 16, as in vLLM and OpenAI', async () => {
    const res = (await stack.client.completions.create({ model: 'sim-r1', prompt: OPENED } as never)) as unknown as Completion;
    expect(res.usage!.completion_tokens).toBe(16);
    expect(res.choices[0]!.finish_reason).toBe('length');
  });

  it('a batch of prompts with n = 2: choice i*n+j is prompt i, sample j, each forced on its own', async () => {
    const res = await complete({ prompt: [OPENED, RAW], n: 2, max_thinking_tokens: 12 });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    for (const c of res.choices) expect(c.budget_forcing).toEqual({ thinking_tokens: 12, extensions: 0, truncated: true, segments: 2 });
    expect(res.choices[0]!.text.startsWith('<think>')).toBe(false);
    expect(res.choices[2]!.text.startsWith('<think>\n')).toBe(true);
    // Prompts add up across the batch; the n samples of one prompt count it once.
    const prompts = (await countTokens(stack.sim, OPENED)) + (await countTokens(stack.sim, RAW));
    expect(res.usage!.prompt_tokens).toBe(prompts);
    expect(res.budget_forcing).toMatchObject({ thinking_tokens: 48, segments: 8 });
  });

  it('token-id prompts are used as they are and give the same text as the string', async () => {
    const ids = ((await post('/tokenize', { model: 'sim-r1', prompt: OPENED })).json.tokens as number[]);
    const [a, b] = await Promise.all([complete({ prompt: ids, max_thinking_tokens: 7 }), complete({ prompt: OPENED, max_thinking_tokens: 7 })]);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    expect(a.usage).toEqual(b.usage);
    const batch = await complete({ prompt: [ids, ids], max_thinking_tokens: 7 });
    expect(batch.choices.map((c) => c.text)).toEqual([b.choices[0]!.text, b.choices[0]!.text]);
  });

  it('streams the same text, usage and budget_forcing as the non-stream answer', async () => {
    const body = { prompt: RAW, max_thinking_tokens: 9, min_thinking_tokens: 5 };
    const whole = await complete(body);
    const stream = await stack.client.completions.create({
      model: 'sim-r1', temperature: 0, max_tokens: 500, ...body, stream: true, stream_options: { include_usage: true },
    } as never);
    let text = '';
    let finish: string | null = null;
    let last: (OpenAI.Completion & { budget_forcing?: BudgetForcing }) | undefined;
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.Completion & { budget_forcing?: BudgetForcing }>) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      last = chunk;
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(finish).toBe('stop');
    expect(last!.usage).toEqual(whole.usage);
    expect(last!.budget_forcing).toEqual(whole.budget_forcing);
  });

  it('streams a batch with n = 2: every choice streams its own transcript, one usage chunk sums the batch', async () => {
    const body = { prompt: [OPENED, RAW], n: 2, max_thinking_tokens: 6 };
    const whole = await complete(body);
    const stream = await stack.client.completions.create({
      model: 'sim-r1', temperature: 0, max_tokens: 500, ...body, stream: true, stream_options: { include_usage: true },
    } as never);
    const texts = ['', '', '', ''];
    const finishes: Array<string | null> = [null, null, null, null];
    const usages: unknown[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.Completion>) {
      for (const c of chunk.choices) {
        texts[c.index] += c.text;
        if (c.finish_reason) finishes[c.index] = c.finish_reason;
      }
      if (chunk.usage) usages.push(chunk.usage);
    }
    expect(texts).toEqual(whole.choices.map((c) => c.text));
    expect(finishes).toEqual(['stop', 'stop', 'stop', 'stop']);
    expect(usages).toEqual([whole.usage]);
  });

  it('rejects what vLLM would reject, before any upstream call: bad prompt shapes and m > M', async () => {
    for (const prompt of [[], [[]], [1, 'a'], 5, [-1]]) {
      const r = await post('/v1/completions', { model: 'sim-r1', prompt });
      expect(r.status, JSON.stringify(prompt)).toBe(400);
      expect((r.json.error as { param: string }).param).toMatch(/^prompt/);
    }
    const r = await post('/v1/completions', { model: 'sim-r1', prompt: 'x', max_thinking_tokens: 5, min_thinking_tokens: 9 });
    expect(r.status).toBe(400);
    expect((r.json.error as { param: string }).param).toBe('min_thinking_tokens');
  });
});

describe('/v1/completions: scoring requests are relayed unchanged (lm-eval loglikelihood)', () => {
  it('echo + logprobs + max_tokens 1 reaches the simulator as sent and comes back as it answered', async () => {
    const body = { model: 'sim-r1', prompt: ['Question: 6 x 7 = ', 'Question: 6 x 7 = 42'], echo: true, logprobs: 1, max_tokens: 1, temperature: 0, seed: 1234 };
    stack.sim.reset();
    const viaGateway = await post('/v1/completions', body);
    const sent = stack.sim.stats().lastRequests.filter((r) => r.path === '/v1/completions');
    expect(sent.map((r) => r.body)).toEqual([body]); // one upstream call, the body unchanged
    expect(viaGateway.status).toBe(200);
    expect(viaGateway.relay).toBe('echo');
    const direct = await post('/v1/completions', body, stack.sim.url);
    const strip = (j: Record<string, unknown>) => ({ ...j, id: undefined, created: undefined });
    expect(strip(viaGateway.json)).toEqual(strip(direct.json));
    expect(viaGateway.json).not.toHaveProperty('budget_forcing');
  });

  it('maps an upstream error answer to the OpenAI envelope like every other upstream error', async () => {
    const body = { model: 'no-such-model', prompt: 'x', echo: true, max_tokens: 0 };
    const direct = await post('/v1/completions', body, stack.sim.url);
    expect(direct.json).toMatchObject({ object: 'error', code: 404 }); // the simulator speaks vLLM < 0.10.1's flat format
    const r = await post('/v1/completions', body);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { message: 'The model does not exist on the upstream.', type: 'not_found_error', param: 'model', code: 'model_not_found' } });
  });

  it('an upstream 5xx on a relayed request is retried on another replica before any byte is sent', async () => {
    const { startSimulator } = await import('../../src/sim/server.js');
    const broken = await startSimulator({ fault: 'http-500' });
    const s = await startStack({ config: { upstreams: [{ url: broken.url }, { url: stack.sim.url }], routing: { retries: 2, retry_backoff_ms: 1 } } });
    try {
      for (let i = 0; i < 4; i++) {
        const r = await post('/v1/completions', { model: 'sim-r1', prompt: 'Question: 1+1=', echo: true, logprobs: 1, max_tokens: 1 }, s.url);
        expect(r.status).toBe(200);
      }
      expect(broken.stats().errors).toBeGreaterThan(0); // the broken replica was tried, and its 500 never reached the client
    } finally {
      await s.close();
      await broken.close();
    }
  });

  it('a client that leaves a relayed stream aborts the upstream request', async () => {
    stack.sim.setOptions({ tokenDelayMs: 20 });
    try {
      const ctrl = new AbortController();
      const res = await fetch(`${stack.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sim-r1', prompt: OPENED, logprobs: 1, max_tokens: 400, stream: true }),
        signal: ctrl.signal,
      });
      expect(res.headers.get('x-thinkgate-relay')).toBe('logprobs');
      const reader = res.body!.getReader();
      await reader.read();
      const aborted = stack.sim.stats().aborted;
      ctrl.abort();
      await until(() => stack.sim.stats().aborted > aborted && stack.sim.stats().running === 0, 2000, 'the upstream abort');
    } finally {
      stack.sim.setOptions({ tokenDelayMs: 0 });
    }
  });
});

describe('relays count in thinkgate_relayed_requests_total, not as budget-forced requests', () => {
  it('by route, reason and final status: answered, an upstream error, a client that left', async () => {
    const s = await startStack({ sim: { tokenDelayMs: 20 } });
    try {
      const relayed = async (): Promise<string[]> =>
        (await (await fetch(`${s.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('thinkgate_relayed_requests_total{'));
      expect((await post('/v1/completions', { model: 'sim-r1', prompt: 'Q', echo: true, logprobs: 1, max_tokens: 1 }, s.url)).status).toBe(200);
      expect((await post('/v1/completions', { model: 'no-such-model', prompt: 'x', echo: true, max_tokens: 0 }, s.url)).status).toBe(404);
      const ctrl = new AbortController();
      const res = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sim-r1', prompt: OPENED, logprobs: 1, max_tokens: 400, stream: true }),
        signal: ctrl.signal,
      });
      await res.body!.getReader().read();
      ctrl.abort();
      const want = [
        'thinkgate_relayed_requests_total{route="/v1/completions",reason="echo",code="200"} 1',
        'thinkgate_relayed_requests_total{route="/v1/completions",reason="echo",code="404"} 1',
        'thinkgate_relayed_requests_total{route="/v1/completions",reason="logprobs",code="499"} 1',
      ];
      // The lifecycle's finally frees the admission slot and counts the relay in one synchronous block.
      await until(() => s.app.thinkgate.limiter.running === 0, 2000, 'the relay of the client that left ended');
      expect((await relayed()).sort()).toEqual(want.sort());
      const text = await (await fetch(`${s.url}/metrics`)).text();
      expect(text).not.toMatch(/^thinkgate_requests_total\{/m);
      expect(text).not.toMatch(/^thinkgate_client_disconnects_total\{/m);
      expect(text).toMatch(/^thinkgate_inflight_requests 0$/m);
    } finally {
      await s.close();
    }
  });
});

describe('tokenizer routes relayed to the upstream (lm-eval remote tokenizer)', () => {
  it('/tokenize, /detokenize and /tokenizer_info answer as the simulator does', async () => {
    const tok = { model: 'sim-r1', prompt: 'The answer is 42.', add_special_tokens: false };
    expect(await post('/tokenize', tok)).toMatchObject({ status: 200, relay: 'tokenizer', json: (await post('/tokenize', tok, stack.sim.url)).json });
    const detok = { model: 'sim-r1', tokens: (await post('/tokenize', tok)).json.tokens };
    const back = await post('/detokenize', detok);
    expect(back.json).toEqual({ prompt: 'The answer is 42.' });
    const info = await fetch(`${stack.url}/tokenizer_info`);
    expect(info.status).toBe(200);
    expect(await info.json()).toEqual(await (await fetch(`${stack.sim.url}/tokenizer_info`)).json());
  });

  it('need the API key when keys are configured, like /v1/*', async () => {
    const s = await startStack({ env: { THINKGATE_API_KEYS: 'k1' } });
    try {
      const open = await fetch(`${s.url}/tokenize`, { method: 'POST', body: '{"prompt":"x"}', headers: { 'content-type': 'application/json' } });
      expect(open.status).toBe(401);
      expect((await fetch(`${s.url}/tokenizer_info`)).status).toBe(401);
      const keyed = await fetch(`${s.url}/tokenizer_info`, { headers: { authorization: 'Bearer k1' } });
      expect(keyed.status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
