/**
 * POST /v1/completions and the tokenizer relay (issue 7) against real servers (llama.cpp's
 * llama-server and vLLM on the CPU, the tiny steered Qwen3 of make-tiny-model.ts).
 *
 * Evaluation harnesses (lm-eval `local-completions`, the s1 harness) send already templated
 * prompts. The gateway must tokenize them exactly as the server would, open thinking itself
 * (Qwen3's template does not), cut it at exactly M, and return as `text` the exact transcript:
 * prompt + text = what the model saw. All of it is checked against the server's own token ids
 * as the recording proxy saw them, and against the server's own /detokenize. Random weights: no
 * text is asserted, only structure and token arithmetic.
 *
 * Scoring requests (lm-eval's loglikelihood: echo + logprobs) and /tokenize, /detokenize,
 * /tokenizer_info must reach vLLM unchanged and come back unchanged (src/serving/relay.ts).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import type { RealBackend } from './backends.js';
import { startRealStack, tokenizeOn, type RealStack } from './stack.js';
import { COMPLETION_PATH, link, segmentOf, startsWith, type Segment } from './transcript.js';

const FORCED_CLOSE = '\n</think>\n\n';
/** Qwen3's chat template for one user turn, up to the assistant's turn: thinking not opened. */
const RAW = '<|im_start|>user\nWhat is 6 x 7? Think it over.<|im_end|>\n<|im_start|>assistant\n';
/** Qwen3's end-of-turn and end-of-text ids (tokenizer_config.json: eos `<|im_end|>`). */
const EOS_IDS = [151645, 151643];

interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}
interface TextCompletion {
  object: string;
  choices: { index: number; text: string; finish_reason: string | null; logprobs: unknown }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number; completion_tokens_details?: { reasoning_tokens?: number } };
  budget_forcing: BudgetForcing;
}
interface EchoLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  text_offset: number[];
  top_logprobs: (Record<string, number> | null)[];
}

/** A raw prompt -> ids as the server's own /v1/completions would tokenize it (special tokens added, if any). */
async function tokenizePromptOn(b: RealBackend, text: string): Promise<number[]> {
  const body = b.kind === 'llamacpp' ? { content: text, add_special: true, parse_special: true } : { model: b.model, prompt: text, add_special_tokens: true };
  const res = await fetch(`${b.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`tokenize on ${b.label}: HTTP ${res.status}`);
  return ((await res.json()) as { tokens: number[] }).tokens;
}

/** Ids -> text on the server itself (vLLM: {prompt}; llama.cpp: {content}; both render special tokens). */
async function detokenizeOn(b: RealBackend, tokens: number[]): Promise<string> {
  const body = b.kind === 'llamacpp' ? { tokens } : { model: b.model, tokens };
  const res = await fetch(`${b.url}/detokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`detokenize on ${b.label}: HTTP ${res.status}`);
  const json = (await res.json()) as { prompt?: string; content?: string };
  return (b.kind === 'llamacpp' ? json.content : json.prompt) ?? '';
}

async function call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; relay: string | null; text: string }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, relay: res.headers.get('x-thinkgate-relay'), text: await res.text() };
}

const backends = inject('realBackends');

describe.each(backends)('$label: /v1/completions', (backend) => {
  let stack: RealStack;
  let ids: { forcedClose: number[]; open: number[]; raw: number[] };
  const path = COMPLETION_PATH[backend.kind];

  beforeAll(async () => {
    stack = await startRealStack(backend);
    ids = {
      forcedClose: await tokenizeOn(backend, FORCED_CLOSE),
      open: await tokenizeOn(backend, '<think>\n'),
      raw: await tokenizePromptOn(backend, RAW),
    };
  });
  afterAll(async () => stack?.close());

  /** One non-stream /v1/completions through the gateway and the server-side segments it caused. */
  async function complete(body: Record<string, unknown>): Promise<{ res: TextCompletion; segs: Segment[] }> {
    const from = stack.proxy.exchanges.length;
    const r = await call('POST', `${stack.url}/v1/completions`, { model: backend.model, temperature: 1, top_p: 1, ...body });
    expect(r.status, r.text).toBe(200);
    expect(r.relay).toBeNull();
    const res = JSON.parse(r.text) as TextCompletion;
    const segs = stack.proxy.since(from, path).map((ex) => segmentOf(backend.kind, ex));
    if (process.env['THINKGATE_REAL_VERBOSE']) {
      console.log(`[${backend.kind}] completions ${JSON.stringify(body).slice(0, 120)} -> ${JSON.stringify(res.budget_forcing)} usage ${JSON.stringify(res.usage)}`);
      console.log(`  segments: ${segs.map((s) => `prompt ${s.prompt.length} max ${s.maxTokens} gen ${s.generated.length}`).join(' | ')}`);
    }
    return { res, segs };
  }

  /**
   * `text` is the exact transcript: everything after the original prompt ids in the last
   * segment's prompt plus what the last segment generated, minus a final EOS (not text), as the
   * server itself detokenizes it. Returns those ids (EOS included: usage counts it).
   */
  async function expectTranscript(text: string, segs: Segment[], promptIds: number[]): Promise<number[]> {
    const last = segs[segs.length - 1]!;
    const tail = [...last.prompt.slice(promptIds.length), ...last.generated];
    const shown = EOS_IDS.includes(tail[tail.length - 1]!) ? tail.slice(0, -1) : tail;
    expect(text).toBe(await detokenizeOn(backend, shown));
    expect(text.startsWith('<think>\n')).toBe(true);
    return tail;
  }

  // The raw prompt is Qwen3-templated: only for the tiny model the suite started.
  const tinyOnly = it.skipIf(!backend.managed);

  tinyOnly('the raw prompt tokenizes to Qwen3 ids without a BOS, thinking not opened', () => {
    expect(ids.raw[0]).toBe(151644); // <|im_start|>
    expect(ids.raw.slice(-ids.open.length)).not.toEqual(ids.open);
    expect(ids.open).toEqual([151667, 198]);
  });

  tinyOnly('a raw prompt is budget forced token-exact and `text` is the exact transcript', async () => {
    const M = 8;
    let truncations = 0;
    for (const seed of [11, 12, 13, 14]) {
      const { res, segs } = await complete({ prompt: RAW, max_thinking_tokens: M, max_tokens: 40, seed });
      const bf = res.budget_forcing;
      expect(res.object).toBe('text_completion');
      expect(res.choices).toHaveLength(1);
      expect(segs.length).toBe(bf.segments);
      // Segment 1: the server's own tokenization of the raw prompt, then the <think>\n the gateway opened.
      expect(segs[0]!.prompt).toEqual([...ids.raw, ...ids.open]);
      expect(segs[0]!.maxTokens).toBe(M);
      expect(bf.thinking_tokens).toBeLessThanOrEqual(M);
      if (bf.truncated) {
        truncations++;
        expect(bf.thinking_tokens).toBe(M);
        // Segment 2 = segment 1's prompt + exactly M generated ids + the forced close.
        expect(segs[1]!.prompt).toEqual([...segs[0]!.prompt, ...segs[0]!.generated.slice(0, M), ...ids.forcedClose]);
        const l = link(segs[0]!, segs[1]!);
        expect(l.kept).toBe(M);
        expect(l.inserted).toEqual(ids.forcedClose);
      }
      // Every continuation extends the previous prompt (docs/budget-forcing.md).
      for (let i = 1; i < segs.length; i++) expect(startsWith(segs[i]!.prompt, segs[i - 1]!.prompt)).toBe(true);
      const tail = await expectTranscript(res.choices[0]!.text, segs, ids.raw);
      if (bf.truncated) expect(res.choices[0]!.text).toContain(FORCED_CLOSE);
      // usage: the prompt once; completion = every id after it (opening, thinking, close, answer, EOS).
      expect(res.usage.prompt_tokens).toBe(ids.raw.length);
      expect(res.usage.completion_tokens).toBe(tail.length);
      expect(res.usage.total_tokens).toBe(ids.raw.length + tail.length);
      expect(res.usage.completion_tokens_details?.reasoning_tokens).toBe(bf.thinking_tokens);
      expect(res.usage.completion_tokens).toBeLessThanOrEqual(40 + ids.open.length + ids.forcedClose.length);
    }
    expect(truncations, 'no seed of 11-14 reached M = 8 thinking tokens').toBeGreaterThan(0);
  });

  tinyOnly('streaming: the text deltas join to the same exact transcript; usage chunk with budget_forcing, [DONE]', async () => {
    const from = stack.proxy.exchanges.length;
    const r = await call('POST', `${stack.url}/v1/completions`, {
      model: backend.model, prompt: RAW, max_thinking_tokens: 6, max_tokens: 20, temperature: 1, top_p: 1, seed: 31,
      stream: true, stream_options: { include_usage: true },
    });
    expect(r.status).toBe(200);
    const lines = r.text.split('\n').filter((l) => l.startsWith('data: '));
    expect(lines[lines.length - 1]).toBe('data: [DONE]');
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l.slice(6)) as Record<string, any>);
    expect(chunks.some((c) => 'error' in c)).toBe(false);
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    const usageChunk = chunks[chunks.length - 1]!;
    expect(usageChunk.choices).toEqual([]);
    const bf = usageChunk.budget_forcing as BudgetForcing;
    const text = chunks.flatMap((c) => (c.choices as { text: string }[]).map((ch) => ch.text)).join('');
    const finishes = chunks.flatMap((c) => (c.choices as { finish_reason: string | null }[]).map((ch) => ch.finish_reason)).filter((f) => f != null);
    expect(finishes).toHaveLength(1);
    const segs = stack.proxy.since(from, path).map((ex) => segmentOf(backend.kind, ex));
    expect(segs.length).toBe(bf.segments);
    expect(segs[0]!.prompt).toEqual([...ids.raw, ...ids.open]);
    if (bf.truncated) expect(link(segs[0]!, segs[1]!)).toMatchObject({ kept: 6, inserted: ids.forcedClose });
    const tail = await expectTranscript(text, segs, ids.raw);
    expect(usageChunk.usage.prompt_tokens).toBe(ids.raw.length);
    expect(usageChunk.usage.completion_tokens).toBe(tail.length);
    expect(usageChunk.usage.completion_tokens_details.reasoning_tokens).toBe(bf.thinking_tokens);
  });

  tinyOnly('a batch of two prompts: each choice is forced on its own and is its own exact transcript', async () => {
    const RAW2 = RAW.replace('6 x 7', '12 + 30');
    const raw2 = await tokenizePromptOn(backend, RAW2);
    const { res, segs } = await complete({ prompt: [RAW, RAW2], max_thinking_tokens: 5, max_tokens: 12, seed: 41 });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1]);
    const perChoice = (res.choices as (TextCompletion['choices'][number] & { budget_forcing?: BudgetForcing })[]).map((c) => c.budget_forcing!);
    expect(perChoice.every((b) => b !== undefined && b.thinking_tokens <= 5)).toBe(true);
    expect(res.budget_forcing.segments).toBe(segs.length);
    let completion = 0;
    for (const [i, promptIds] of [ids.raw, raw2].entries()) {
      // This choice's segments: those whose prompt starts with its prompt and the opening, in order.
      const mine = segs.filter((s) => startsWith(s.prompt, [...promptIds, ...ids.open]));
      expect(mine.length).toBe(perChoice[i]!.segments);
      for (let k = 1; k < mine.length; k++) expect(startsWith(mine[k]!.prompt, mine[k - 1]!.prompt)).toBe(true);
      if (perChoice[i]!.truncated) expect(link(mine[0]!, mine[1]!)).toMatchObject({ kept: 5, inserted: ids.forcedClose });
      completion += (await expectTranscript(res.choices[i]!.text, mine, promptIds)).length;
    }
    expect(res.usage.prompt_tokens).toBe(ids.raw.length + raw2.length);
    expect(res.usage.completion_tokens).toBe(completion);
  });

  tinyOnly('a token-id prompt (the ids of /tokenize) gives the same first segment as the string', async () => {
    const s = await complete({ prompt: RAW, max_thinking_tokens: 4, max_tokens: 8, seed: 21 });
    const t = await complete({ prompt: ids.raw, max_thinking_tokens: 4, max_tokens: 8, seed: 21 });
    expect(t.segs[0]!.prompt).toEqual(s.segs[0]!.prompt);
    expect(t.segs[0]!.prompt).toEqual([...ids.raw, ...ids.open]);
    expect(t.res.usage.prompt_tokens).toBe(ids.raw.length);
  });
});

describe.each(backends.filter((b) => b.kind === 'vllm'))('$label: relayed scoring and tokenizer routes', (backend) => {
  let stack: RealStack;

  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  it('a loglikelihood request (echo + logprobs) is relayed unchanged and equals a direct call', async () => {
    const body = { model: backend.model, prompt: ['The capital of France is Paris'], echo: true, logprobs: 1, max_tokens: 1, temperature: 0 };
    const from = stack.proxy.exchanges.length;
    const via = await call('POST', `${stack.url}/v1/completions`, body);
    expect(via.status, via.text).toBe(200);
    expect(via.relay).toBe('echo');
    // The server saw exactly the client's body, once: no budget forcing, no segments.
    const seen = stack.proxy.since(from, '/v1/completions');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toEqual(body);
    const direct = await call('POST', `${backend.url}/v1/completions`, body);
    expect(direct.status).toBe(200);
    const a = (JSON.parse(via.text) as { choices: { logprobs: EchoLogprobs; text: string }[] }).choices[0]!;
    const b = (JSON.parse(direct.text) as { choices: { logprobs: EchoLogprobs; text: string }[] }).choices[0]!;
    const promptIds = await tokenizeOn(backend, body.prompt[0]!);
    // The prompt's tokens (the first without a logprob) and the one generated token.
    expect(a.logprobs.token_logprobs).toHaveLength(promptIds.length + 1);
    expect(a.logprobs.token_logprobs[0]).toBeNull();
    expect(a.logprobs.token_logprobs.slice(1).every((x) => typeof x === 'number' && x <= 0)).toBe(true);
    expect(a.text.startsWith(body.prompt[0]!)).toBe(true);
    expect(a.logprobs.tokens).toEqual(b.logprobs.tokens);
    expect(a.text).toBe(b.text);
    expect(a.logprobs.token_logprobs.length).toBe(b.logprobs.token_logprobs.length);
    a.logprobs.token_logprobs.forEach((x, i) => {
      const y = b.logprobs.token_logprobs[i];
      if (x === null || y === null) expect(x).toBe(y);
      else expect(Math.abs(x - y!)).toBeLessThan(1e-6);
    });
  });

  it('/tokenize and /detokenize through the gateway equal direct calls', async () => {
    const bodies = [
      { model: backend.model, prompt: 'Hello <think>\nworld</think>\n\nok', add_special_tokens: false },
      { model: backend.model, prompt: 'Hello world' },
      { model: backend.model, messages: [{ role: 'user', content: 'What is 6 x 7?' }], add_generation_prompt: true },
    ];
    for (const body of bodies) {
      const via = await call('POST', `${stack.url}/tokenize`, body);
      const direct = await call('POST', `${backend.url}/tokenize`, body);
      expect(via.status, via.text).toBe(200);
      expect(via.relay).toBe('tokenizer');
      expect(JSON.parse(via.text)).toEqual(JSON.parse(direct.text));
      const tokens = (JSON.parse(via.text) as { tokens: number[] }).tokens;
      expect(tokens.length).toBeGreaterThan(0);
      const dBody = { model: backend.model, tokens };
      const dVia = await call('POST', `${stack.url}/detokenize`, dBody);
      const dDirect = await call('POST', `${backend.url}/detokenize`, dBody);
      expect(dVia.status, dVia.text).toBe(200);
      expect(JSON.parse(dVia.text)).toEqual(JSON.parse(dDirect.text));
      if ('prompt' in body && backend.managed) expect((JSON.parse(dVia.text) as { prompt: string }).prompt).toBe(body.prompt);
    }
    // An upstream error comes back as the upstream's own status and envelope.
    const bad = { model: backend.model, tokens: [-1] };
    const badVia = await call('POST', `${stack.url}/detokenize`, bad);
    const badDirect = await call('POST', `${backend.url}/detokenize`, bad);
    expect(badVia.status).toBe(badDirect.status);
    expect(badVia.status).toBeGreaterThanOrEqual(400);
  });

  it('/tokenizer_info through the gateway: the tokenizer eos_token and chat_template, as vLLM serves them', async () => {
    const via = await call('GET', `${stack.url}/tokenizer_info`);
    const direct = await call('GET', `${backend.url}/tokenizer_info`);
    expect(direct.status, 'vLLM runs with --enable-tokenizer-info-endpoint (servers.ts)').toBe(200);
    expect(via.status, via.text).toBe(200);
    expect(via.relay).toBe('tokenizer');
    const info = JSON.parse(via.text) as { eos_token?: unknown; chat_template?: unknown; tokenizer_class?: unknown };
    expect(info).toEqual(JSON.parse(direct.text));
    expect(typeof info.tokenizer_class).toBe('string');
    expect(typeof info.chat_template).toBe('string');
    expect(info.chat_template as string).toContain('<|im_start|>');
    if (backend.managed) expect(info.eos_token).toBe('<|im_end|>');
  });
});
