/**
 * thinkgate against real inference servers (llama.cpp's llama-server and vLLM on the CPU, or
 * any vLLM via THINKGATE_TEST_VLLM_URL), with the tiny steered Qwen3 of make-tiny-model.ts:
 * real Qwen3 tokenizer and chat template, random weights steered so that `</think>` comes after
 * tens to hundreds of tokens. Random weights: no exact text is asserted, only structure and
 * budget arithmetic, checked against the server's own token ids as the recording proxy saw them.
 * Sampling is sent explicitly (temperature 1, top_p 1, a seed): the servers' defaults differ.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type OpenAI from 'openai';
import './backends.js';
import { startRealStack, tokenizeOn, type RealStack } from './stack.js';
import { COMPLETION_PATH, link, segmentOf, type Segment } from './transcript.js';

const THINK_END = '</think>';
const FORCED_CLOSE = '\n</think>\n\n';

interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}
type Completion = OpenAI.ChatCompletion & { budget_forcing: BudgetForcing };
type Msg = OpenAI.ChatCompletionMessage & { reasoning_content?: string | null; reasoning?: string | null };

const backends = inject('realBackends');

describe.each(backends)('$label', (backend) => {
  let stack: RealStack;
  let ids: { thinkEnd: number[]; forcedClose: number[]; wait: number[]; open: number[] };
  const path = COMPLETION_PATH[backend.kind];

  beforeAll(async () => {
    stack = await startRealStack(backend);
    ids = {
      thinkEnd: await tokenizeOn(backend, THINK_END),
      forcedClose: await tokenizeOn(backend, FORCED_CLOSE),
      wait: await tokenizeOn(backend, 'Wait'),
      open: await tokenizeOn(backend, '<think>\n'),
    };
  });
  afterAll(async () => stack?.close());

  const ask = (seed: number, extra: Record<string, unknown>) => ({
    model: backend.model,
    messages: [{ role: 'user', content: 'What is 6 x 7? Think it over.' }],
    temperature: 1,
    top_p: 1,
    seed,
    ...extra,
  });

  /** One non-stream request and the server-side segments it caused. */
  async function run(seed: number, extra: Record<string, unknown>) {
    const from = stack.proxy.exchanges.length;
    const res = (await stack.client.chat.completions.create(ask(seed, extra) as never)) as Completion;
    const segs = stack.proxy.since(from, path).map((ex) => segmentOf(backend.kind, ex));
    if (process.env['THINKGATE_REAL_VERBOSE']) {
      const links = segs.slice(1).map((s, i) => link(segs[i]!, s));
      console.log(`[${backend.kind}] seed ${seed} ${JSON.stringify(extra)} -> ${JSON.stringify(res.budget_forcing)} usage ${JSON.stringify(res.usage)}`);
      console.log(`  segments: ${segs.map((s) => `prompt ${s.prompt.length} max ${s.maxTokens} gen ${s.generated.length} cached ${s.cached}`).join(' | ')}`);
      console.log(`  links: ${JSON.stringify(links)}`);
    }
    return { res, msg: res.choices[0]!.message as Msg, segs, bf: res.budget_forcing };
  }

  /**
   * The whole assistant turn in the server's ids: the last prompt plus what the last segment
   * generated. The thinking span starts right after the first prompt (which ends with the
   * `<think>\n` the gateway opened: Qwen3's template does not open thinking itself).
   */
  function span(segs: Segment[], n: number): { ids: number[]; after: number[] } {
    const last = segs[segs.length - 1]!;
    const turn = [...last.prompt, ...last.generated];
    const start = segs[0]!.prompt.length;
    return { ids: turn.slice(start, start + n), after: turn.slice(start + n, start + n + ids.forcedClose.length) };
  }

  function expectCloseAfterSpan(segs: Segment[], bf: BudgetForcing): void {
    const s = span(segs, bf.thinking_tokens);
    expect(s.ids.length).toBe(bf.thinking_tokens);
    expect(s.ids).not.toContain(ids.thinkEnd[0]);
    // Right after the span: the forced close (max rule, or an EOS inside thinking) or the model's own </think>.
    const forced = s.after.length === ids.forcedClose.length && s.after.every((id, i) => id === ids.forcedClose[i]);
    if (bf.truncated) expect(forced).toBe(true);
    else expect(forced || s.after[0] === ids.thinkEnd[0]).toBe(true);
  }

  // Tests that rely on the tiny model (Qwen3 vocabulary and template, a model that closes
  // thinking within ~100 tokens) run on the servers the suite started; the rest on any vLLM.
  const tinyOnly = it.skipIf(!backend.managed);

  tinyOnly('the tiny model uses the real Qwen3 tokenizer: single-id delimiters', () => {
    expect(ids.thinkEnd).toEqual([151668]);
    expect(ids.open).toEqual([151667, 198]);
    expect(ids.forcedClose).toContain(151668);
  });

  it('max_thinking_tokens: the span is exactly M when truncated, continued token-exact', async () => {
    const M = 12;
    const { res, msg, segs, bf } = await run(7, { max_thinking_tokens: M, max_completion_tokens: 40 });
    expect(bf.thinking_tokens).toBeLessThanOrEqual(M);
    expect(res.usage?.completion_tokens_details?.reasoning_tokens).toBe(bf.thinking_tokens);
    expect(segs.length).toBe(bf.segments);
    // The thinking segment asks the server for exactly what the budget leaves.
    expect(segs[0]!.maxTokens).toBe(M);
    expect(segs[0]!.prompt.slice(-ids.open.length)).toEqual(ids.open);
    if (bf.truncated) {
      expect(bf.thinking_tokens).toBe(M);
      const l = link(segs[0]!, segs[1]!);
      expect(l.kept).toBe(M);
      expect(l.inserted).toEqual(ids.forcedClose);
    }
    expectCloseAfterSpan(segs, bf);
    expect(typeof msg.content).toBe('string');
    expect(msg.reasoning_content ?? '').toBe(msg.reasoning ?? '');
    // prompt_tokens is the templated prompt, counted once (without the ids the gateway opened:
    // Qwen3's template leaves thinking to the model; R1's and QwQ's open it themselves).
    if (backend.managed) expect(res.usage!.prompt_tokens).toBe(segs[0]!.prompt.length - ids.open.length);
    else expect([segs[0]!.prompt.length, segs[0]!.prompt.length - ids.open.length]).toContain(res.usage!.prompt_tokens);
  });

  tinyOnly('min_thinking_tokens: a real close attempt below m is dropped and Wait appended', async () => {
    // Find where the model closes thinking by itself for some seed (the steered model does so
    // after tens to hundreds of tokens), then ask for more than that: the same seed makes the
    // same close attempt, which the gateway must drop and extend.
    let found: { seed: number; close: number } | undefined;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const { bf, segs } = await run(seed, { max_thinking_tokens: 120, max_completion_tokens: 124 });
      if (!bf.truncated && bf.thinking_tokens >= 2 && link0Closes(segs, bf.thinking_tokens)) {
        found = { seed, close: bf.thinking_tokens };
        break;
      }
    }
    expect(found, 'the model never closed thinking by itself within 120 tokens for seeds 1-8').toBeDefined();
    const m = found!.close + 8;
    const E = 2;
    const { segs, bf, msg } = await run(found!.seed, { min_thinking_tokens: m, max_thinking_tokens: m + 40, max_thinking_extensions: E, max_completion_tokens: m + 48 });
    expect(bf.extensions).toBeGreaterThanOrEqual(1);
    expect(bf.thinking_tokens >= m || bf.extensions === E || bf.truncated).toBe(true);
    expect(bf.thinking_tokens).toBeLessThanOrEqual(m + 40);
    expectCloseAfterSpan(segs, bf);
    // The first segment stopped at the model's own close, which the next prompt dropped for "Wait".
    const first = link(segs[0]!, segs[1]!);
    expect(first.kept).toBe(found!.close);
    expect(first.dropped).toBe(ids.thinkEnd[0]);
    expect(first.inserted).toEqual(ids.wait);
    let extensions = 0;
    for (let i = 0; i + 1 < segs.length; i++) {
      const l = link(segs[i]!, segs[i + 1]!);
      if (l.inserted.length === ids.wait.length && l.inserted.every((id, k) => id === ids.wait[k])) {
        extensions++;
        // What was dropped is the model's close: </think> or an end-of-turn id, never a thinking token.
        expect(l.dropped === ids.thinkEnd[0] || l.dropped === 151645 || l.dropped === 151643).toBe(true);
      }
    }
    expect(extensions).toBe(bf.extensions);
    // The phrase is in the returned reasoning, once per extension (rule 9); the dropped close is not.
    expect((msg.reasoning_content ?? '').split('Wait').length - 1).toBeGreaterThanOrEqual(bf.extensions);
    expect(msg.reasoning_content ?? '').not.toContain(THINK_END);
    expect(msg.content ?? '').not.toContain(THINK_END);
    if (backend.kind === 'vllm') {
      // vLLM stops on the end id itself while the minimum is unmet.
      const body = stack.proxy.exchanges.filter((e) => e.path === path).slice(-segs.length)[0]!.body as { stop_token_ids?: number[] };
      expect(body.stop_token_ids).toEqual(ids.thinkEnd);
    }
  });

  /** The model closed thinking itself with `</think>` right after the span (not an EOS, not the budget). */
  function link0Closes(segs: Segment[], n: number): boolean {
    return span(segs, n).after[0] === ids.thinkEnd[0];
  }

  it('continuations are served from the prefix cache', async () => {
    // A long prompt, so that it fills whole KV-cache blocks on vLLM.
    const long = Array.from({ length: 60 }, (_, i) => `step ${i} of the plan is to check the numbers again`).join('. ');
    const from = stack.proxy.exchanges.length;
    await stack.client.chat.completions.create({ ...ask(9, { max_thinking_tokens: 8, max_completion_tokens: 16 }), messages: [{ role: 'user', content: long }] } as never);
    const segs = stack.proxy.since(from, path).map((ex) => segmentOf(backend.kind, ex));
    expect(segs.length).toBeGreaterThanOrEqual(2);
    const prev = segs[0]!;
    const next = segs[1]!;
    if (process.env['THINKGATE_REAL_VERBOSE']) {
      console.log(`[${backend.kind}] prefix cache: ${segs.map((x) => `prompt ${x.prompt.length} cached ${x.cached}`).join(' | ')}`);
    }
    expect(prev.prompt.length).toBeGreaterThan(500);
    expect(next.cached).toBeDefined();
    // llama.cpp reuses the exact common prefix; vLLM whole blocks of it (block size <= 128).
    const slack = backend.kind === 'llamacpp' ? 0 : 128;
    expect(next.cached!).toBeGreaterThanOrEqual(prev.prompt.length - slack);
    expect(next.cached!).toBeLessThanOrEqual(next.prompt.length);
  });

  it('streaming: reasoning then content deltas, usage chunk with budget_forcing, [DONE]', async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask(5, { max_thinking_tokens: 10, max_completion_tokens: 24 }), stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(200);
    const lines = (await res.text()).split('\n').filter((l) => l.startsWith('data: '));
    expect(lines[lines.length - 1]).toBe('data: [DONE]');
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l.slice(6)) as Record<string, any>);
    expect(chunks.some((c) => 'error' in c)).toBe(false);
    const usageChunk = chunks[chunks.length - 1]!;
    expect(usageChunk.choices).toEqual([]);
    const bf = usageChunk.budget_forcing as BudgetForcing;
    expect(bf.thinking_tokens).toBeLessThanOrEqual(10);
    expect(usageChunk.usage.completion_tokens_details.reasoning_tokens).toBe(bf.thinking_tokens);
    const finishes = chunks.flatMap((c) => (c.choices as any[]).map((ch) => ch.finish_reason)).filter((f) => f != null);
    expect(finishes).toHaveLength(1);
    // No content before the last reasoning delta.
    const kinds = chunks.flatMap((c) => (c.choices as any[]).map((ch) => (ch.delta?.reasoning_content ? 'r' : ch.delta?.content ? 'c' : '')).filter(Boolean));
    expect(kinds.join('')).toMatch(/^r*c*$/);
  });

  tinyOnly('chat_template_kwargs.enable_thinking: false reaches the template: no thinking at all', async () => {
    const from = stack.proxy.exchanges.length;
    const { msg, bf, segs } = await run(3, { chat_template_kwargs: { enable_thinking: false }, max_completion_tokens: 12 });
    expect(bf.thinking_tokens).toBe(0);
    expect(msg.reasoning_content ?? '').toBe('');
    // The template itself closed thinking: the prompt ends with <think>\n\n</think>\n\n.
    expect(segs[0]!.prompt.slice(-4)).toEqual([151667, 271, 151668, 271]);
    const templatePath = backend.kind === 'llamacpp' ? '/apply-template' : '/tokenize';
    const sent = stack.proxy.since(from, templatePath).map((e) => e.body as { chat_template_kwargs?: Record<string, unknown> });
    expect(sent.some((b) => b.chat_template_kwargs?.enable_thinking === false)).toBe(true);
  });

  it('a client disconnect aborts the generation on the server', async () => {
    const from = stack.proxy.exchanges.length;
    const ac = new AbortController();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask(4, { max_thinking_tokens: 3000, min_thinking_tokens: 3000, max_completion_tokens: 3500 }), stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('reasoning_content')) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    // The gateway hangs up on the server; the server stops generating.
    const deadline = Date.now() + 15_000;
    let busy = true;
    while (busy && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const ex = stack.proxy.since(from, path);
      busy = ex.length === 0 || ex.some((e) => !e.completed && e.status === undefined) || (await serverBusy());
    }
    expect(busy).toBe(false);
    const ex = stack.proxy.since(from, path);
    expect(ex[ex.length - 1]!.completed).toBe(false);
    const gen = segmentOf(backend.kind, ex[ex.length - 1]!).generated.length;
    // Nowhere near the 3000 tokens it was asked for.
    expect(gen).toBeLessThan(2900);
  });

  /** The server's own view: llama.cpp's /slots, vLLM's /metrics gauge of running requests. */
  async function serverBusy(): Promise<boolean> {
    if (backend.kind === 'llamacpp') {
      const slots = (await (await fetch(`${backend.url}/slots`)).json()) as { is_processing: boolean }[];
      return slots.some((s) => s.is_processing);
    }
    const metrics = await (await fetch(`${backend.url}/metrics`)).text();
    const running = metrics.split('\n').filter((l) => l.startsWith('vllm:num_requests_running'));
    return running.some((l) => Number(l.split(' ').pop()) > 0);
  }
});
