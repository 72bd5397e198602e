/**
 * Served self-consistency (issue 16, item 3; docs/api.md "Majority vote"): `n` budget-forced
 * samples, voted by a grader, one answer. The simulator's solver answers its word problems with a
 * `\boxed{}` number that depends on the sample's seed and how long it thought (src/sim/solver.ts),
 * so samples disagree the way a real model's do; the test recomputes the vote from the same
 * samples fetched without `aggregate` (same seeds: seed + j per sample) and checks the gateway
 * picked that one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { startStack, until, type Stack } from '../support/stack.js';
import { lastBoxed } from '../../src/sweep/graders.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());

type Vote = { grader: string; answers: (string | null)[]; counts: Record<string, number>; agreement: number; winner: number };
type Bf = { thinking_tokens: number; segments: number; vote?: Vote };
type Res = OpenAI.ChatCompletion & { budget_forcing: Bf };

const QUESTION = 'Ana has 5 apples. She buys 7 more. She eats 3. How many apples does Ana have now? Put your final answer within \\boxed{}.';
const ask = (extra: Record<string, unknown>) => ({
  model: 'sim-r1',
  messages: [{ role: 'user' as const, content: QUESTION }],
  temperature: 1,
  seed: 11,
  n: 8,
  max_thinking_tokens: 40,
  ...extra,
});

describe('aggregate: majority', () => {
  it('returns the sample with the most frequent answer as the only choice; usage and budgets summed over all samples', async () => {
    const all = (await stack.client.chat.completions.create(ask({}) as never)) as Res;
    const answers = all.choices.map((c) => lastBoxed(c.message.content ?? ''));
    const counts = new Map<string, number>();
    for (const a of answers) if (a !== null) counts.set(a, (counts.get(a) ?? 0) + 1);
    const top = Math.max(...counts.values());
    const best = [...counts.entries()].find(([, n]) => n === top)![0];
    expect(counts.size).toBeGreaterThan(1); // the samples disagree: the vote decides something

    const voted = (await stack.client.chat.completions.create(ask({ aggregate: 'majority' }) as never)) as Res;
    expect(voted.choices).toHaveLength(1);
    expect(voted.choices[0]!.index).toBe(0);
    const vote = voted.budget_forcing.vote!;
    expect(vote.grader).toBe('boxed');
    expect(vote.answers).toEqual(answers);
    expect(vote.counts[best]).toBe(top);
    expect(vote.agreement).toBeCloseTo(top / 8);
    expect(vote.winner).toBe(answers.indexOf(best));
    // The winner is that very sample, text and all.
    expect(voted.choices[0]!.message.content).toBe(all.choices[vote.winner]!.message.content);
    // Cost is every sample's (cached prompt tokens aside: the first request warmed the cache).
    const { prompt_tokens_details: _a, ...votedUsage } = voted.usage!;
    const { prompt_tokens_details: _b, ...allUsage } = all.usage!;
    expect(votedUsage).toEqual(allUsage);
    expect(voted.budget_forcing.thinking_tokens).toBe(all.budget_forcing.thinking_tokens);
  });

  it('streamed: one choice, sent once decided, the vote on the usage chunk', async () => {
    const voted = (await stack.client.chat.completions.create(ask({ aggregate: { method: 'majority', grader: 'boxed' } }) as never)) as Res;
    const stream = await stack.client.chat.completions.create({ ...ask({ aggregate: 'majority' }), stream: true, stream_options: { include_usage: true } } as never);
    let content = '';
    const indexes = new Set<number>();
    let last: (OpenAI.ChatCompletionChunk & { budget_forcing?: Bf }) | undefined;
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk & { budget_forcing?: Bf }>) {
      for (const c of chunk.choices) {
        indexes.add(c.index);
        content += c.delta.content ?? '';
      }
      last = chunk;
    }
    expect([...indexes]).toEqual([0]);
    expect(content).toBe(voted.choices[0]!.message.content);
    expect({ ...last!.usage, prompt_tokens_details: undefined }).toEqual({ ...voted.usage, prompt_tokens_details: undefined });
    expect(last!.budget_forcing?.vote).toEqual(voted.budget_forcing.vote);
  });

  it('a client that leaves while the samples are held aborts every one of them upstream', async () => {
    stack.sim.setOptions({ tokenDelayMs: 20 });
    try {
      stack.sim.reset();
      const ac = new AbortController();
      const res = fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...ask({ aggregate: 'majority', n: 4 }), max_thinking_tokens: 400, stream: true }), signal: ac.signal });
      await until(() => stack.sim.stats().running === 4, 3000, 'four samples generating');
      ac.abort();
      await res.catch(() => undefined);
      await until(() => stack.sim.stats().running === 0, 3000, 'no running generation');
      expect(stack.sim.stats().aborted).toBe(4);
    } finally {
      stack.sim.setOptions({ tokenDelayMs: 0 });
    }
  });

  it.each([
    ['n = 1', { n: 1 }, 'aggregate'],
    ['logprobs', { logprobs: true }, 'logprobs'],
    ['an unknown method', { aggregate: 'mean' }, 'aggregate'],
    ['an unknown grader', { aggregate: { method: 'majority', grader: 'vibes' } }, 'aggregate'],
  ])('%s is a 400 naming the field', async (_n, extra, param) => {
    const body = { aggregate: 'majority', ...extra };
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask(body)) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toMatch(new RegExp(`^${param}`));
  });

  it('/v1/completions refuses it (chat only)', async () => {
    const res = await fetch(`${stack.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-r1', prompt: 'x', n: 2, aggregate: 'majority', max_thinking_tokens: 4 }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('aggregate');
  });
});
