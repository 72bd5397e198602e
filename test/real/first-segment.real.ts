/**
 * Issue 14, item 6 on the real vLLM CPU build: `routing.first_segment: chat` sends the first
 * segment through vLLM's own /v1/chat/completions (with return_token_ids, through its qwen3
 * reasoning parser), later segments through /v1/completions, and must give the same ids and the
 * same budgets as the /tokenize path. The tiny Qwen3's template leaves opening thinking to the
 * model, so the requests carry its own template with the generation prompt ending in `<think>\n`
 * (DeepSeek-R1's way, the case the chat path serves; vLLM runs with --trust-request-chat-template).
 * Greedy sampling: both paths must generate the same ids.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, type RealStack } from './stack.js';
import { segmentOf } from './transcript.js';

const vllm = inject('realBackends').filter((b) => b.kind === 'vllm' && b.managed);

describe.runIf(vllm.length > 0)('first segment through the chat endpoint (vLLM)', () => {
  const backend = vllm[0]!;
  let viaTokenize: RealStack;
  let viaChat: RealStack;
  let template: string;

  beforeAll(async () => {
    [viaTokenize, viaChat] = await Promise.all([
      startRealStack(backend, undefined, { routing: { first_segment: 'tokenize' } }),
      startRealStack(backend, undefined, { routing: { first_segment: 'chat' } }),
    ]);
    const info = (await (await fetch(`${backend.url}/tokenizer_info`)).json()) as { chat_template: string };
    const gen = "'<|im_start|>assistant\\n'";
    const at = info.chat_template.lastIndexOf(gen);
    expect(at).toBeGreaterThan(0);
    template = `${info.chat_template.slice(0, at)}'<|im_start|>assistant\\n<think>\\n'${info.chat_template.slice(at + gen.length)}`;
  });
  afterAll(async () => {
    await viaTokenize?.close();
    await viaChat?.close();
  });

  const ask = (extra: Record<string, unknown>) => ({
    model: backend.model,
    messages: [{ role: 'user', content: 'What is 6 x 7? Think it over.' }],
    chat_template: template,
    temperature: 0,
    ...extra,
  });

  /** One request through `stack`: the response, and every upstream call it made (path, ids). */
  async function run(stack: RealStack, extra: Record<string, unknown>) {
    const from = stack.proxy.exchanges.length;
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask(extra)),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as {
      choices: Array<{ message: { reasoning_content?: string | null; content: string | null }; finish_reason: string }>;
      usage: Record<string, unknown>;
      budget_forcing: Record<string, unknown>;
    };
    const exchanges = stack.proxy.exchanges.slice(from);
    const generated = exchanges
      .filter((e) => e.path === '/v1/completions' || e.path === '/v1/chat/completions')
      .map((e) => (e.path === '/v1/completions' ? segmentOf('vllm', e).generated : chatIds(e.response)));
    // The upstream calls that make the answer (the pool may also refresh GET /v1/models; GET /version once).
    return { json, paths: exchanges.map((e) => e.path).filter((p) => p !== '/v1/models' && p !== '/version'), generated };
  }

  it.each([
    // max_tokens bounds every answer: the tiny random model at temperature 0 rarely ends its turn.
    ['M cuts thinking', { max_thinking_tokens: 24, max_tokens: 48 }],
    ['m extends thinking, then M', { min_thinking_tokens: 20, max_thinking_tokens: 40, max_thinking_extensions: 2, max_tokens: 64 }],
    ['max_tokens ends the answer', { max_thinking_tokens: 16, max_tokens: 28 }],
  ])('%s: the same ids, text, usage and budget_forcing as the /tokenize path, without the /tokenize call', async (_name, budget) => {
    await run(viaChat, budget); // the first request of its kind learns the template (via /tokenize)
    const a = await run(viaTokenize, budget);
    const b = await run(viaChat, budget);
    expect(a.paths).toContain('/tokenize');
    expect(b.paths.filter((p) => p === '/tokenize')).toEqual([]);
    expect(b.paths[0]).toBe('/v1/chat/completions');
    // Every segment's generated ids, the answer and the accounting: the same.
    expect(b.generated.flat()).toEqual(a.generated.flat());
    expect(b.json.choices).toEqual(a.json.choices);
    expect(b.json.usage).toEqual(a.json.usage);
    expect(b.json.budget_forcing).toEqual(a.json.budget_forcing);
  });

  /** A streamed request: the text of every delta, in order, and the last chunk's usage and budget_forcing. */
  async function streamed(stack: RealStack, extra: Record<string, unknown>) {
    const from = stack.proxy.exchanges.length;
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask(extra), stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(200);
    const chunks = (await res.text())
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)) as { choices: Array<{ delta: { reasoning_content?: string; content?: string }; finish_reason: string | null }>; usage?: unknown; budget_forcing?: unknown; error?: unknown });
    expect(chunks.some((c) => c.error !== undefined)).toBe(false);
    const paths = stack.proxy.exchanges.slice(from).map((e) => e.path).filter((p) => p !== '/v1/models' && p !== '/version');
    return {
      paths,
      reasoning: chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join(''),
      content: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''),
      finish: chunks.map((c) => c.choices[0]?.finish_reason ?? null).filter((f) => f !== null),
      usage: chunks.at(-1)?.usage,
      budgetForcing: chunks.find((c) => c.budget_forcing !== undefined)?.budget_forcing,
    };
  }

  it('streamed to the client (M; m and M): the same thinking, answer, finish, usage and budget_forcing as the /tokenize path', async () => {
    for (const budget of [{ max_thinking_tokens: 24, max_tokens: 48 }, { min_thinking_tokens: 20, max_thinking_tokens: 40, max_thinking_extensions: 2, max_tokens: 64 }]) {
      await streamed(viaChat, budget); // the first request of its kind learns the template (via /tokenize)
      const a = await streamed(viaTokenize, budget);
      const b = await streamed(viaChat, budget);
      expect(a.paths).toContain('/tokenize');
      expect(b.paths[0]).toBe('/v1/chat/completions');
      expect(b.paths).not.toContain('/tokenize');
      // The tiny random model closes thinking at once when it may; a minimum makes it think.
      if ('min_thinking_tokens' in budget) expect(a.reasoning.length).toBeGreaterThan(0);
      expect({ ...b, paths: undefined }).toEqual({ ...a, paths: undefined });
    }
  });
});

/** The ids of a chat stream as vLLM sent them (choices[0].token_ids of every chunk). */
function chatIds(sse: string): number[] {
  const ids: number[] = [];
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const c = JSON.parse(line.slice(6)) as { choices?: Array<{ token_ids?: number[] | null }> };
    for (const ch of c.choices ?? []) ids.push(...(ch.token_ids ?? []));
  }
  return ids;
}
