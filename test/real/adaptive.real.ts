/**
 * Issue 16's adaptive test-time compute against the real servers, with the tiny steered Qwen3
 * (random weights: no text is asserted, only what the servers received and generated, read from
 * the recording proxy):
 *
 * - early exit (`thinking_early_exit`, docs/budget-forcing.md "Early exit"), on vLLM: probes run
 *   at the probe interval, their prompt is served from vLLM's prefix cache (`cached_tokens`), they
 *   never alter the main stream's ids, `budget_forcing.early_exit` counts them, M still holds; an
 *   answer prefix that closes its own `\boxed{}` forces agreement and a `converged` close;
 * - reflection suppression (`suppress_reflection`, docs/api.md), on vLLM and llama.cpp: -100 on
 *   every one-token spelling (the server's own /tokenize) on thinking segments only, and none of
 *   those ids generated while thinking;
 * - the majority vote (`aggregate: 'majority'`), on vLLM: one choice, the usage of all samples.
 *
 * Seeds: vLLM seeds a request's sampler at the request's start (a per-request generator), so a
 * segment's ids are a function of (prompt, sampling, seed). A thinking stream cut into more segments (one per probe
 * point) therefore samples differently after the first cut than one cut fewer times: early exit
 * cannot keep the ids of a run without it past the first probe point, at temperature > 0. What it
 * must keep is everything the main stream is a function of: the same prompts and sampling fields,
 * whatever the probes said. So the comparison past the first probe point is between two early-exit
 * runs whose probes differ (another answer prefix): their main segments must be identical. (With
 * THINKGATE_REAL_VERBOSE the test prints how many of ids 16-31 match the run without early exit:
 * 0 of 16 for seed 1 when written.)
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, tokenizeOn, type RealStack } from './stack.js';
import { COMPLETION_PATH, link, segmentOf, type Segment } from './transcript.js';
import type { Exchange } from './recording-proxy.js';
import type { RealBackend } from './backends.js';

const FORCED_CLOSE = '\n</think>\n\n';
const DEFAULT_PREFIX = 'The final answer is \\boxed{';
/** Another probe suffix: the main stream must not care. */
const OTHER_PREFIX = 'Answer: ';
/** A prefix whose own \boxed{} is closed: every probe extracts 42, so probes agree. */
const AGREEING_PREFIX = 'The final answer is \\boxed{42}.';

const K = 16;
const M = 56;

type Bf = {
  thinking_tokens: number;
  truncated: boolean;
  segments: number;
  extensions: number;
  reflection_ids_banned?: number;
  early_exit?: { probes: number; probe_tokens: number; exited_at: number | null; answers: (string | null)[] };
  vote?: { grader: string; answers: (string | null)[]; counts: Record<string, number>; agreement: number; winner: number };
};
type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number; completion_tokens_details?: { reasoning_tokens?: number } };
type Body = { choices: { index: number; message: { content: string | null; reasoning_content?: string | null }; finish_reason: string }[]; usage: Usage; budget_forcing: Bf };

const all = inject('realBackends').filter((b) => b.managed);
const vllm = all.filter((b) => b.kind === 'vllm');
const verbose = process.env['THINKGATE_REAL_VERBOSE'] !== undefined;

/**
 * vLLM CPU's KV-cache block (vllm/platforms/cpu.py: block_size 128 unless set): its prefix cache
 * keeps and reports whole blocks only.
 */
const BLOCK = 128;
/**
 * A long user turn: the first prompt (867 ids) fills 6 whole blocks, and the 7th (ids 768-895)
 * fills with thinking ids, the last of them from the second thinking segment (which no run without
 * early exit generates): the probe at the second point is served ids the main stream generated.
 */
const LONG = Array.from({ length: 62 }, (_, i) => `step ${i} of the plan is to check the numbers again`).join('. ');

function ask(backend: RealBackend, seed: number, extra: Record<string, unknown>, content = 'What is 6 x 7? Think it over.'): Record<string, unknown> {
  return { model: backend.model, messages: [{ role: 'user', content }], temperature: 1, top_p: 1, seed, ...extra };
}

/** One chat request through a stack, and every upstream completion call it caused. */
async function post(stack: RealStack, body: Record<string, unknown>): Promise<{ out: Body; calls: Exchange[] }> {
  const from = stack.proxy.exchanges.length;
  const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const calls = stack.proxy.since(from, COMPLETION_PATH[stack.backend.kind]);
  const out = JSON.parse(text) as Body;
  if (verbose) {
    const segs = calls.map((c) => segmentOf(stack.backend.kind, c));
    console.log(`[${stack.backend.kind}] ${JSON.stringify({ ...body, messages: undefined })} -> ${JSON.stringify(out.budget_forcing)} usage ${JSON.stringify(out.usage)}`);
    console.log(`  calls: ${segs.map((s, i) => `${temperatureOf(calls[i]!) === 0 ? 'PROBE ' : ''}prompt ${s.prompt.length} max ${s.maxTokens} gen ${s.generated.length} cached ${s.cached}`).join(' | ')}`);
  }
  return { out, calls };
}

const temperatureOf = (ex: Exchange): unknown => (ex.body as Record<string, unknown>)['temperature'];
/** The main stream's calls (the client's temperature 1) and the probes (temperature 0). */
function split(kind: RealBackend['kind'], calls: Exchange[]): { main: Segment[]; mainBodies: Record<string, unknown>[]; probes: Segment[] } {
  const main = calls.filter((c) => temperatureOf(c) !== 0);
  const probes = calls.filter((c) => temperatureOf(c) === 0);
  return { main: main.map((c) => segmentOf(kind, c)), mainBodies: main.map((c) => c.body as Record<string, unknown>), probes: probes.map((c) => segmentOf(kind, c)) };
}

describe.runIf(vllm.length > 0).each(vllm)('$label: early exit', (backend) => {
  let plain: RealStack; // the default profile: answer prefix `The final answer is \boxed{`
  let other: RealStack; // the same, with another answer prefix
  let agreeing: RealStack; // a prefix whose \boxed{42} is closed: probes agree
  let forcedClose: number[];
  let thinkEnd: number;
  let seed: number | undefined;

  beforeAll(async () => {
    plain = await startRealStack(backend);
    other = await startRealStack(backend, { 'think-tags': { answer_prefix: OTHER_PREFIX } });
    agreeing = await startRealStack(backend, { 'think-tags': { answer_prefix: AGREEING_PREFIX } });
    forcedClose = await tokenizeOn(backend, FORCED_CLOSE);
    thinkEnd = (await tokenizeOn(backend, '</think>'))[0]!;
  });
  afterAll(async () => {
    await plain?.close();
    await other?.close();
    await agreeing?.close();
  });

  const request = (s: number, extra: Record<string, unknown>) => ask(backend, s, { max_thinking_tokens: M, max_completion_tokens: M + 12, ...extra }, LONG);

  it(`probes every ${K} thinking tokens on prefix-cached prompts; the main stream ignores what they say; M holds`, async () => {
    // A seed whose plain run thinks past two probe points (the steered model closes after tens to hundreds of tokens).
    let base: { out: Body; main: Segment[] } | undefined;
    for (const s of [1, 2, 3, 4, 5, 6]) {
      const { out, calls } = await post(plain, request(s, {}));
      if (out.budget_forcing.thinking_tokens > 2 * K) {
        seed = s;
        base = { out, main: split(backend.kind, calls).main };
        break;
      }
    }
    expect(seed, 'no seed of 1-6 thought past 32 tokens').toBeDefined();
    const ee = { thinking_early_exit: { probe_interval_tokens: K, agreements: 16 } }; // 16: no exit within M
    const a = await post(plain, request(seed!, ee));
    const b = await post(other, request(seed!, ee));
    const prefixIds = await tokenizeOn(backend, DEFAULT_PREFIX);
    const otherIds = await tokenizeOn(backend, OTHER_PREFIX);

    for (const [{ out, calls }, suffix] of [[a, [...forcedClose, ...prefixIds]], [b, [...forcedClose, ...otherIds]]] as const) {
      const bf = out.budget_forcing;
      const { main, probes } = split(backend.kind, calls);
      const start = main[0]!.prompt.length;
      // Calls alternate: a thinking segment stopped at a probe point, its probe, the next segment.
      expect(calls.map((c) => (temperatureOf(c) === 0 ? 'p' : 's')).join('')).toBe('sp'.repeat(probes.length) + 's'.repeat(main.length - probes.length));
      const spans = probes.map((p) => p.prompt.length - suffix.length - start);
      const expected = [K, 2 * K, 3 * K].filter((x) => x < M && x <= bf.thinking_tokens);
      expect(spans).toEqual(expected);
      expect(bf.early_exit).toEqual({ probes: expected.length, probe_tokens: probes.reduce((n, p) => n + p.generated.length, 0), exited_at: null, answers: expect.any(Array) });
      expect(bf.early_exit!.answers).toHaveLength(expected.length);
      for (const [i, p] of probes.entries()) {
        const seg = main[i]!;
        // The probe: the thinking so far + the forced close + the answer prefix, a few tokens.
        expect(seg.generated).toHaveLength(K);
        expect(p.prompt).toEqual([...seg.prompt, ...seg.generated, ...suffix]);
        expect(p.maxTokens).toBe(16);
        // Served from vLLM's prefix cache: at least every whole block the main stream computed
        // (its prompt and its generated ids but the last, whose KV is never computed).
        expect(p.cached, 'cached_tokens missing from the probe usage').toBeDefined();
        expect(p.cached!).toBeGreaterThanOrEqual(Math.floor((seg.prompt.length + K - 1) / BLOCK) * BLOCK);
        expect(p.cached!).toBeLessThan(p.prompt.length);
        // The next thinking segment continues the previous one exactly: no probe suffix, nothing inserted.
        expect(link(seg, main[i + 1]!)).toEqual({ kept: K, dropped: undefined, inserted: [] });
        expect(main[i + 1]!.maxTokens).toBe(Math.min(K, M - (i + 1) * K));
      }
      // Blocks of thinking ids, not just the client's prompt: past the first point, the probe
      // reads what this main stream generated from the cache.
      const boundary = Math.ceil(start / BLOCK) * BLOCK;
      expect(boundary - start, 'the 7th block must fill during the second thinking segment').toBeGreaterThan(K);
      expect(boundary - start).toBeLessThanOrEqual(2 * K - 1);
      expect(probes.length).toBeGreaterThanOrEqual(2);
      expect(probes[0]!.cached!).toBeLessThan(start);
      expect(probes[1]!.cached!).toBe(boundary);
      // Exact budgets: the span is at most M, and exactly M (then the forced close) when truncated.
      expect(bf.thinking_tokens).toBeLessThanOrEqual(M);
      expect(out.usage.completion_tokens_details?.reasoning_tokens).toBe(bf.thinking_tokens);
      const last = main.at(-1)!;
      const turn = [...last.prompt, ...last.generated];
      expect(turn.slice(start, start + bf.thinking_tokens)).not.toContain(thinkEnd);
      if (bf.truncated) {
        expect(bf.thinking_tokens).toBe(M);
        expect(turn.slice(start + M, start + M + forcedClose.length)).toEqual(forcedClose);
      }
    }
    // Up to the first probe point, the same ids as without early exit (same seed, same prompt).
    const ma = split(backend.kind, a.calls).main;
    expect(ma[0]!.generated).toEqual(base!.main[0]!.generated.slice(0, K));
    if (verbose) {
      const same = ma[1]!.generated.filter((id, i) => id === base!.main[0]!.generated[K + i]).length;
      console.log(`  ids ${K}-${2 * K - 1} with early exit vs without: ${same} of ${ma[1]!.generated.length} equal (a new segment restarts the seeded sampler)`);
    }
    // Past it, the main stream is a function of its prompts and sampling only: probes that said
    // other things (another prefix) leave every main segment, prompt and ids, the same.
    const mb = split(backend.kind, b.calls);
    expect(mb.main.map((s) => [s.prompt, s.generated, s.maxTokens])).toEqual(ma.map((s) => [s.prompt, s.generated, s.maxTokens]));
    expect(mb.mainBodies.map((x) => ({ ...x, prompt: undefined }))).toEqual(split(backend.kind, a.calls).mainBodies.map((x) => ({ ...x, prompt: undefined })));
    expect(b.out.choices[0]!.message.reasoning_content).toBe(a.out.choices[0]!.message.reasoning_content);
    expect(b.out.usage).toEqual(a.out.usage);
  });

  it('agreeing probes close thinking at the probe point with the forced close (cause converged)', async () => {
    expect(seed, 'the first test found no seed').toBeDefined();
    const { out, calls } = await post(agreeing, request(seed!, { thinking_early_exit: { probe_interval_tokens: K, agreements: 2 } }));
    const bf = out.budget_forcing;
    const { main, probes } = split(backend.kind, calls);
    // The seed's main stream thinks past 2K (first test): two probes, both 42, and thinking closes at 2K.
    expect(bf.early_exit).toEqual({ probes: 2, probe_tokens: probes[0]!.generated.length + probes[1]!.generated.length, exited_at: 2 * K, answers: ['42', '42'] });
    expect(bf.thinking_tokens).toBe(2 * K);
    expect(bf.truncated).toBe(false);
    expect(out.usage.completion_tokens_details?.reasoning_tokens).toBe(2 * K);
    expect(main).toHaveLength(3);
    expect(calls.map((c) => (temperatureOf(c) === 0 ? 'p' : 's')).join('')).toBe('spsps');
    // The converged segment: the kept thinking + the forced close, no probe suffix.
    expect(link(main[1]!, main[2]!)).toEqual({ kept: K, dropped: undefined, inserted: forcedClose });
    // ... at 2K < M, not by the max rule; the answer gets what max_completion_tokens leaves after
    // the span (docs/budget-forcing.md, "max_tokens and max_completion_tokens").
    expect(main[2]!.maxTokens).toBe(M + 12 - 2 * K);
    expect(out.choices[0]!.finish_reason).toMatch(/^(stop|length)$/);
  });
});

describe.each(all)('$label: reflection suppression', (backend) => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  /** Thinking segments: those whose prompt has no `</think>` past the opening prompt. */
  const thinkingOf = (segs: Segment[], thinkEnd: number) => segs.map((s) => !s.prompt.slice(segs[0]!.prompt.length).includes(thinkEnd));

  it('bans the one-token spellings of frequent thinking words on thinking segments only; none is generated', async () => {
    const thinkEnd = (await tokenizeOn(backend, '</think>'))[0]!;
    const extra = { max_thinking_tokens: 40, max_completion_tokens: 56 };
    const seed = 3;
    const base = await post(stack, ask(backend, seed, extra));
    const baseSegs = base.calls.map((c) => segmentOf(backend.kind, c));
    const baseThinking = baseSegs.filter((_, i) => thinkingOf(baseSegs, thinkEnd)[i]).flatMap((s) => s.generated);
    // The words the model wrote most while thinking, each with its one-token spellings (as the server tokenizes them).
    const counts = new Map<string, number>();
    for (const w of (base.out.choices[0]!.message.reasoning_content ?? '').match(/[A-Za-z]{2,}/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
    const words = [...counts.entries()].sort((x, y) => y[1] - x[1]).map(([w]) => w);
    const banned = new Map<string, Set<number>>();
    for (const w of words) {
      const ids = new Set<number>();
      const cap = w[0]!.toUpperCase() + w.slice(1);
      for (const s of new Set([w, w.toLowerCase(), cap].flatMap((x) => [x, ` ${x}`]))) {
        const t = await tokenizeOn(backend, s);
        if (t.length === 1) ids.add(t[0]!);
      }
      if ([...ids].some((id) => baseThinking.includes(id))) banned.set(w, ids);
      if (banned.size === 3) break;
    }
    expect(banned.size, `no word of the plain thinking is one token: ${words.slice(0, 10).join(' ')}`).toBeGreaterThan(0);
    const expected = new Set([...banned.values()].flatMap((s) => [...s]));
    expect(baseThinking.filter((id) => expected.has(id)).length, 'the plain run wrote the words').toBeGreaterThan(0);

    const { out, calls } = await post(stack, ask(backend, seed, { ...extra, suppress_reflection: [...banned.keys()] }));
    const segs = calls.map((c) => segmentOf(backend.kind, c));
    const thinking = thinkingOf(segs, thinkEnd);
    expect(thinking[0]).toBe(true);
    expect(thinking.at(-1)).toBe(false); // the answer starts a segment of its own
    expect(out.budget_forcing.reflection_ids_banned).toBe(expected.size);
    for (const [i, c] of calls.entries()) {
      const bias = (c.body as Record<string, unknown>)['logit_bias'];
      if (thinking[i]) {
        const want = Object.fromEntries([...expected].map((id) => [String(id), -100]));
        // llama.cpp's /completion takes OpenAI's object as is; vLLM's /v1/completions too.
        expect(bias).toEqual(want);
        expect(segs[i]!.generated.filter((id) => expected.has(id))).toEqual([]);
      } else {
        expect(bias).toBeUndefined();
      }
    }
    expect(out.budget_forcing.thinking_tokens).toBeLessThanOrEqual(40);
  });
});

describe.runIf(vllm.length > 0).each(vllm)('$label: majority vote', (backend) => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  it("aggregate 'majority' with n = 3: one choice, the three samples' usage summed, the vote reported", async () => {
    const req = ask(backend, 11, { n: 3, max_thinking_tokens: 24, max_completion_tokens: 40 });
    const plain = await post(stack, req);
    const voted = await post(stack, { ...req, aggregate: 'majority' });
    expect(plain.out.choices).toHaveLength(3);
    expect(voted.out.choices).toHaveLength(1);
    expect(voted.out.choices[0]!.index).toBe(0);
    // The same samples ran (sample j with seed + j): the same upstream calls, usage and thinking.
    const bodies = (calls: Exchange[]) => calls.map((c) => JSON.stringify(c.body)).sort();
    expect(bodies(voted.calls)).toEqual(bodies(plain.calls));
    expect(new Set(voted.calls.map((c) => (c.body as { seed: number }).seed))).toEqual(new Set([11, 12, 13]));
    expect(voted.out.usage).toEqual(plain.out.usage);
    // ... which is the sum over the three samples, each reported on its own choice without aggregate.
    const perChoice = (plain.out.choices as unknown as { budget_forcing: Bf }[]).map((c) => c.budget_forcing.thinking_tokens);
    expect(voted.out.usage.completion_tokens_details?.reasoning_tokens).toBe(perChoice[0]! + perChoice[1]! + perChoice[2]!);
    const { vote, ...summed } = voted.out.budget_forcing;
    expect(summed).toMatchObject({ thinking_tokens: plain.out.budget_forcing.thinking_tokens, segments: plain.out.budget_forcing.segments });
    expect(vote).toBeDefined();
    expect(vote!.grader).toBe('boxed');
    expect(vote!.answers).toHaveLength(3);
    expect(vote!.winner).toBeGreaterThanOrEqual(0);
    expect(vote!.winner).toBeLessThan(3);
    expect(voted.out.choices[0]!.message.content).toBe(plain.out.choices[vote!.winner]!.message.content);
  });
});
