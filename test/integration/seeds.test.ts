/**
 * `n` with a `seed` (issue 13, item 5): sample j gets seed + j, as vLLM's parallel sampling
 * gives its children (vllm/v1/engine/parallel_sampling.py), so n samples differ yet reproduce.
 * Every segment of a sample carries that sample's seed. Checked on what the upstream received.
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

/** Seed of every /v1/completions call the simulator saw, by request id (one per segment). */
function seedsByRun(): Map<string, Set<unknown>> {
  const out = new Map<string, Set<unknown>>();
  for (const r of s.sim.stats().lastRequests) {
    if (r.path !== '/v1/completions') continue;
    const id = String(r.headers['x-request-id'] ?? '').replace(/-\d+$/, ''); // drop the segment
    const seeds = out.get(id) ?? new Set();
    seeds.add((r.body as { seed?: unknown }).seed);
    out.set(id, seeds);
  }
  return out;
}

describe('seeds per sample', () => {
  it('chat, n = 3, seed 7: the samples get 7, 8 and 9 on every segment', async () => {
    s.sim.reset();
    await s.client.chat.completions.create({
      model: 'sim-r1',
      messages: [{ role: 'user', content: 'What is 6 x 7?' }],
      n: 3,
      seed: 7,
      // @ts-expect-error thinkgate's field: a minimum makes several segments per sample
      min_thinking_tokens: 40,
    });
    const runs = [...seedsByRun().entries()].sort(([a], [b]) => a.localeCompare(b));
    expect(runs.map(([id, seeds]) => [id.slice(-3), [...seeds]])).toEqual([
      ['-c0', [7]],
      ['-c1', [8]],
      ['-c2', [9]],
    ]);
  });

  it('completions, 2 prompts x n = 2, seed 5: sample j of each prompt gets 5 + j', async () => {
    s.sim.reset();
    await s.client.completions.create({ model: 'sim-r1', prompt: ['a', 'b'], n: 2, seed: 5, max_tokens: 40 });
    const runs = [...seedsByRun().entries()].sort(([a], [b]) => a.localeCompare(b));
    expect(runs.map(([id, seeds]) => [id.slice(-6), [...seeds]])).toEqual([
      ['-p0-c0', [5]],
      ['-p0-c1', [6]],
      ['-p1-c0', [5]],
      ['-p1-c1', [6]],
    ]);
  });

  it('without a seed, no sample gets one', async () => {
    s.sim.reset();
    await s.client.chat.completions.create({ model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], n: 2 });
    for (const seeds of seedsByRun().values()) expect([...seeds]).toEqual([undefined]);
  });
});
