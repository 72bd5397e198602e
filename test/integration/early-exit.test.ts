/**
 * Answer-convergence early exit end to end (issue 16, item 1; docs/budget-forcing.md "Early
 * exit"): the openai SDK -> thinkgate -> simulator. The simulator's solver answers a probe (its
 * prompt: the thinking so far + the forced close + `The final answer is \boxed{`) with its best
 * guess at that point of its thinking (src/sim/solver.ts), which settles as it thinks longer, so
 * agreeing probes cut thinking short of where the model would have closed it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());
beforeEach(() => stack.sim.reset());

type EarlyExit = { probes: number; probe_tokens: number; exited_at: number | null; answers: (string | null)[] };
type Res = OpenAI.ChatCompletion & { budget_forcing: { thinking_tokens: number; segments: number; truncated: boolean; early_exit?: EarlyExit } };

const QUESTION = 'Ana has 5 apples. She buys 7 more. She eats 3. How many apples does Ana have now? Put your final answer within \\boxed{}.';
const ask = (extra: Record<string, unknown>) => ({ model: 'sim-r1', messages: [{ role: 'user' as const, content: QUESTION }], ...extra });

function completions(): Record<string, unknown>[] {
  return stack.sim.stats().lastRequests.filter((r) => r.path === '/v1/completions').map((r) => r.body as Record<string, unknown>);
}

describe('thinking_early_exit', () => {
  it('closes thinking once consecutive probes agree, well before the natural close; probes are prefix-cached side calls', async () => {
    const natural = (await stack.client.chat.completions.create(ask({}) as never)) as Res;
    stack.sim.reset();
    const res = (await stack.client.chat.completions.create(ask({ thinking_early_exit: { probe_interval_tokens: 8, agreements: 2 } }) as never)) as Res;
    const ee = res.budget_forcing.early_exit!;
    expect(ee.exited_at).not.toBeNull();
    expect(res.budget_forcing.thinking_tokens).toBe(ee.exited_at);
    expect(ee.exited_at!).toBeLessThan(natural.budget_forcing.thinking_tokens);
    expect(ee.probes).toBeGreaterThanOrEqual(2);
    const [a, b] = ee.answers.slice(-2);
    expect(a).not.toBeNull();
    expect(a).toBe(b);
    expect(res.choices[0]!.message.content).toContain(`\\boxed{${a}}`);
    expect(res.budget_forcing.truncated).toBe(false);
    // The upstream calls: segments and probes; each probe's prompt extends the thinking so far.
    const calls = completions();
    const probes = calls.filter((c) => c['max_tokens'] === 16);
    expect(probes).toHaveLength(ee.probes);
    for (const p of probes) expect(p['temperature']).toBe(0);
    // Probe tokens are reported apart: never in completion or reasoning tokens; in usage.probe_tokens and the metrics.
    expect(res.usage!.completion_tokens_details?.reasoning_tokens).toBe(ee.exited_at);
    expect((res.usage as unknown as { probe_tokens: number }).probe_tokens).toBe(ee.probe_tokens);
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    const sample = (name: string) => Number(new RegExp(`^${name}\\{model="sim-r1"\\} (\\d+)`, 'm').exec(text)?.[1]);
    expect(sample('thinkgate_early_exit_probes_total')).toBeGreaterThanOrEqual(ee.probes);
    expect(sample('thinkgate_early_exit_probe_tokens_total')).toBeGreaterThanOrEqual(ee.probe_tokens);
    expect(sample('thinkgate_early_exits_total')).toBeGreaterThanOrEqual(1);
  });

  it('true: the profile defaults (interval 256) never fire on a short thinking; min holds the first probe back', async () => {
    const res = (await stack.client.chat.completions.create(ask({ thinking_early_exit: true }) as never)) as Res;
    expect(res.budget_forcing.early_exit).toEqual({ probes: 0, probe_tokens: 0, exited_at: null, answers: [] });
    const m = (await stack.client.chat.completions.create(ask({ thinking_early_exit: { probe_interval_tokens: 4, agreements: 1 }, min_thinking_tokens: 20 }) as never)) as Res;
    expect(m.budget_forcing.early_exit!.exited_at!).toBeGreaterThanOrEqual(20);
  });

  it('min_confidence gates the exit on the probes\' mean logprob (the simulator reports real-looking ones)', async () => {
    const res = (await stack.client.chat.completions.create(ask({ thinking_early_exit: { probe_interval_tokens: 8, agreements: 2, min_confidence: -50 } }) as never)) as Res;
    const ee = res.budget_forcing.early_exit! as EarlyExit & { mean_logprobs: number[] };
    expect(ee.mean_logprobs).toHaveLength(ee.probes);
    expect(ee.exited_at).not.toBeNull();
    const probes = completions().filter((c) => c['max_tokens'] === 16);
    for (const p of probes) expect(p['logprobs']).toBe(0);
    stack.sim.reset();
    const never = (await stack.client.chat.completions.create(ask({ thinking_early_exit: { probe_interval_tokens: 8, agreements: 2, min_confidence: 0 } }) as never)) as Res;
    // A mean logprob of exactly 0 would need certainty on every token: the simulator never is.
    expect(never.budget_forcing.early_exit!.exited_at).toBeNull();
  });

  it.each([
    ['a positive min_confidence (it is a logprob)', { thinking_early_exit: { min_confidence: 0.5 } }, 'thinking_early_exit'],
    ['agreements 0', { thinking_early_exit: { agreements: 0 } }, 'thinking_early_exit'],
    ['an unknown key', { thinking_early_exit: { every: 3 } }, 'thinking_early_exit'],
  ])('%s is a 400 naming the field', async (_n, extra, param) => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask(extra)) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toMatch(new RegExp(`^${param.replaceAll('.', '\\.')}`));
  });
});
