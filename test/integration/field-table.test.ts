/**
 * Issue 13, items 1, 7 (interim) and 8 through the whole stack (thinkgate in front of the
 * simulator): what each column of the field table does on the wire, refusals, text-only content,
 * include_reasoning, continuous_usage_stats and the new reasoning_effort levels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.close();
});

const Q = [{ role: 'user', content: 'What is 6 x 7?' }];

async function post(path: string, body: unknown): Promise<{ status: number; text: string; json: () => any }> {
  const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

/** The JSON payloads of an SSE body, [DONE] left out. */
function chunks(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));
}

function segmentBodies(): Record<string, unknown>[] {
  return s.sim
    .stats()
    .lastRequests.filter((r) => r.path === '/v1/completions')
    .map((r) => r.body as Record<string, unknown>);
}

describe('the field table on the wire', () => {
  it('segment fields and unknown fields reach every segment; consumed and pending ones never do', async () => {
    s.sim.reset();
    const res = await post('/v1/chat/completions', {
      model: 'sim-r1',
      messages: Q,
      min_thinking_tokens: 40, // several segments
      top_k: 20,
      priority: 0,
      cache_salt: 'salt-1',
      vllm_0_99_knob: { a: 1 },
      include_reasoning: true,
      user: 'u',
      metadata: { k: 'v' },
      response_format: { type: 'text' },
      logprobs: false,
      request_id: 'mine',
    });
    expect(res.status).toBe(200);
    const bodies = segmentBodies();
    expect(bodies.length).toBeGreaterThan(1);
    for (const b of bodies) {
      expect(b).toMatchObject({ top_k: 20, priority: 0, cache_salt: 'salt-1', vllm_0_99_knob: { a: 1 } });
      for (const k of ['include_reasoning', 'user', 'metadata', 'response_format', 'logprobs', 'request_id', 'min_thinking_tokens', 'messages']) {
        expect(b, k).not.toHaveProperty(k);
      }
    }
  });

  it.each([
    ['chat', '/v1/chat/completions', { messages: Q, min_tokens: 3 }, 'min_tokens'],
    ['chat', '/v1/chat/completions', { messages: Q, kv_transfer_params: { do_remote_decode: true } }, 'kv_transfer_params'],
    ['chat', '/v1/chat/completions', { messages: Q, stop_token_ids: [1, 2] }, 'stop_token_ids'],
    ['chat', '/v1/chat/completions', { messages: Q, use_beam_search: true }, 'use_beam_search'],
    ['chat', '/v1/chat/completions', { messages: Q, audio: { voice: 'alloy', format: 'wav' } }, 'audio'],
    ['completions', '/v1/completions', { prompt: 'p', truncate_prompt_tokens: 5 }, 'truncate_prompt_tokens'],
    ['completions', '/v1/completions', { prompt: 'p', prompt_embeds: 'AAAA' }, 'prompt_embeds'],
  ])('%s: a refused field is a 400 naming it, before any upstream call (%s)', async (_e, path, body, param) => {
    s.sim.reset();
    const res = await post(path, { model: 'sim-r1', ...body });
    expect(res.status).toBe(400);
    expect(res.json().error).toMatchObject({ param, code: 'unsupported_parameter', type: 'invalid_request_error' });
    expect(s.sim.stats().lastRequests).toEqual([]);
  });

  it("refused fields at vLLM's default value pass (the SDKs send them)", async () => {
    const res = await post('/v1/chat/completions', { model: 'sim-r1', messages: Q, min_tokens: 0, echo: false, skip_special_tokens: true, use_beam_search: false, stop_token_ids: [] });
    expect(res.status).toBe(200);
  });

  it('a relayed completions request reaches vLLM unchanged, refused fields included', async () => {
    s.sim.reset();
    const res = await post('/v1/completions', { model: 'sim-r1', prompt: 'p', echo: true, max_tokens: 1, min_tokens: 1 });
    expect(res.status).toBe(200);
    expect(segmentBodies()[0]).toMatchObject({ echo: true, min_tokens: 1 });
  });
});

describe('content parts (issue 13, item 7; media parts: multimodal.test.ts)', () => {
  it.each([
    [{ type: 'file', file: { file_id: 'f' } }, "'file' part"],
    [{ type: 'text', text: 'hidden', image_url: { url: 'x' } }, "'text' part with 'image_url'"],
    [{ type: 'image_url', video_url: { url: 'x' } }, "'image_url' part"],
  ])('a part that is neither text nor media is a 400 naming messages[i].content[j], and nothing reaches the upstream', async (part, what) => {
    s.sim.reset();
    const res = await post('/v1/chat/completions', {
      model: 'sim-r1',
      messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: [{ type: 'text', text: 'look:' }, part] }],
    });
    expect(res.status).toBe(400);
    const err = res.json().error;
    expect(err).toMatchObject({ param: 'messages[1].content[1]', code: 'unsupported_content_part' });
    expect(err.message).toContain(what);
    expect(err.message).toContain('thinkgate takes text parts');
    expect(s.sim.stats().lastRequests).toEqual([]);
  });

  it('text parts still work', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'sim-r1',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is ' }, { type: 'text', text: '6 x 7?' }] }],
    });
    expect(res.status).toBe(200);
  });
});

describe('include_reasoning (issue 13, item 8)', () => {
  const body = { model: 'sim-r1', messages: Q, temperature: 0, max_thinking_tokens: 30 };

  it('false: no reasoning text, same answer, thinking still happened and was budgeted', async () => {
    const shown = (await post('/v1/chat/completions', body)).json();
    const hidden = (await post('/v1/chat/completions', { ...body, include_reasoning: false })).json();
    expect(shown.choices[0].message.reasoning_content.length).toBeGreaterThan(0);
    expect(hidden.choices[0].message).toEqual({ role: 'assistant', content: shown.choices[0].message.content, reasoning_content: null, reasoning: null });
    // The same tokens (the second request may hit the prefix cache the first one filled).
    const { prompt_tokens_details: _a, ...hiddenUsage } = hidden.usage;
    const { prompt_tokens_details: _b, ...shownUsage } = shown.usage;
    expect(hiddenUsage).toEqual(shownUsage);
    expect(hidden.budget_forcing).toEqual(shown.budget_forcing);
    expect(hidden.usage.completion_tokens_details.reasoning_tokens).toBe(30);
  });

  it('false, streaming: no chunk carries reasoning; the content is the same', async () => {
    const shown = chunks((await post('/v1/chat/completions', { ...body, stream: true })).text);
    const hidden = chunks((await post('/v1/chat/completions', { ...body, stream: true, include_reasoning: false })).text);
    const text = (cs: any[]) => cs.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(hidden.some((c) => c.choices[0]?.delta?.reasoning_content !== undefined || c.choices[0]?.delta?.reasoning !== undefined)).toBe(false);
    expect(shown.some((c) => c.choices[0]?.delta?.reasoning_content !== undefined)).toBe(true);
    expect(text(hidden)).toBe(text(shown));
  });

  it('a non-boolean is a 400', async () => {
    const res = await post('/v1/chat/completions', { ...body, include_reasoning: 'no' });
    expect(res.status).toBe(400);
    expect(res.json().error.param).toBe('include_reasoning');
  });
});

describe('stream_options.continuous_usage_stats (issue 13, item 8)', () => {
  /** Checks vLLM's invariants on one stream; returns the final usage chunk. */
  function checkContinuous(cs: any[], n: number): any {
    const last = cs.at(-1);
    expect(last.choices).toEqual([]);
    const perChoice = new Map<number, number[]>();
    for (const c of cs.slice(0, -1)) {
      expect(c.choices).toHaveLength(1);
      const u = c.usage;
      expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
      expect(u.completion_tokens_details.reasoning_tokens).toBeLessThanOrEqual(u.completion_tokens);
      const seen = perChoice.get(c.choices[0].index) ?? [];
      seen.push(u.completion_tokens);
      perChoice.set(c.choices[0].index, seen);
    }
    expect([...perChoice.keys()].sort()).toEqual([...Array(n).keys()]);
    let sum = 0;
    for (const counts of perChoice.values()) {
      expect(counts[0]).toBe(0); // the role chunk
      expect([...counts].sort((a, b) => a - b)).toEqual(counts); // never goes down
      sum += counts.at(-1)!;
    }
    // The finish chunks' numbers add up to the final usage.
    expect(last.usage.completion_tokens).toBe(sum);
    return last;
  }

  it('chat, n = 2: usage on every chunk, per choice, ending at the exact totals', async () => {
    const text = (await post('/v1/chat/completions', {
      model: 'sim-r1', messages: Q, n: 2, seed: 3, max_thinking_tokens: 25, stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    })).text;
    const last = checkContinuous(chunks(text), 2);
    expect(last.usage.completion_tokens_details.reasoning_tokens).toBe(50);
  });

  it('completions, 2 prompts: each choice counts against its own prompt', async () => {
    const cs = chunks((await post('/v1/completions', {
      model: 'sim-r1', prompt: ['What is 6 x 7?', 'Hi'], max_tokens: 60, max_thinking_tokens: 20, stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    })).text);
    const prompts = new Map<number, number>();
    for (const c of cs.slice(0, -1)) prompts.set(c.choices[0].index, c.usage.prompt_tokens);
    expect(prompts.get(0)).not.toBe(prompts.get(1));
    expect(cs.at(-1).usage.prompt_tokens).toBe(prompts.get(0)! + prompts.get(1)!);
    // A completions stream has no role chunk: the first text chunk already counts tokens.
    expect(cs.slice(0, -1).every((c) => c.usage !== null)).toBe(true);
  });

  it('without include_usage it adds nothing, as in vLLM', async () => {
    const cs = chunks((await post('/v1/chat/completions', { model: 'sim-r1', messages: Q, stream: true, stream_options: { continuous_usage_stats: true } })).text);
    expect(cs.every((c) => c.usage === undefined)).toBe(true);
  });
});

describe('reasoning_effort: the whole vLLM 0.32 set (issue 13, item 8)', () => {
  it.each(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'])('%s is accepted', async (effort) => {
    const res = await post('/v1/chat/completions', { model: 'sim-r1', messages: Q, reasoning_effort: effort, max_completion_tokens: 300 });
    expect(res.status).toBe(200);
    if (effort === 'none') expect(res.json().budget_forcing.thinking_tokens).toBe(0);
  });
});

describe('against the simulated vLLM chat endpoint (no budgets: thinkgate must say what vLLM says)', () => {
  async function direct(body: Record<string, unknown>): Promise<{ status: number; text: string }> {
    const res = await fetch(`${s.sim.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  }
  const body = { model: 'sim-r1', messages: Q, temperature: 0, max_completion_tokens: 400 };

  it('include_reasoning: false: the same content and no reasoning, non-stream and stream', async () => {
    const mine = (await post('/v1/chat/completions', { ...body, include_reasoning: false })).json();
    const theirs = JSON.parse((await direct({ ...body, include_reasoning: false })).text);
    expect(theirs.choices[0].message.reasoning_content).toBeNull();
    expect(mine.choices[0].message.reasoning_content).toBeNull();
    expect(mine.choices[0].message.content).toBe(theirs.choices[0].message.content);
    expect(mine.usage.completion_tokens).toBe(theirs.usage.completion_tokens);

    const delta = (cs: any[], k: string) => cs.map((c) => c.choices[0]?.delta?.[k] ?? '').join('');
    const ms = chunks((await post('/v1/chat/completions', { ...body, stream: true, include_reasoning: false })).text);
    const ts = chunks((await direct({ ...body, stream: true, include_reasoning: false })).text);
    expect(delta(ms, 'reasoning_content') + delta(ms, 'reasoning')).toBe('');
    expect(delta(ts, 'reasoning_content')).toBe('');
    expect(delta(ms, 'content')).toBe(delta(ts, 'content'));
  });

  it('continuous_usage_stats: the same first and last numbers, usage on every chunk on both sides', async () => {
    const opts = { ...body, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } };
    const ms = chunks((await post('/v1/chat/completions', opts)).text);
    const ts = chunks((await direct(opts)).text);
    for (const cs of [ms, ts]) expect(cs.every((c) => c.usage !== null && c.usage !== undefined)).toBe(true);
    const pick = (u: any) => ({ prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens });
    expect(pick(ms[0].usage)).toEqual(pick(ts[0].usage)); // the role chunk: 0 completion tokens
    expect(ms[0].usage.completion_tokens).toBe(0);
    expect(pick(ms.at(-1).usage)).toEqual(pick(ts.at(-1).usage));
    // The finish chunk of the choice: the choice's whole count, as vLLM's.
    const finish = (cs: any[]) => cs.find((c) => c.choices[0]?.finish_reason != null);
    expect(pick(finish(ms).usage)).toEqual(pick(finish(ts).usage));
  });
});
