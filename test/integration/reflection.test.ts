/**
 * Reflection suppression end to end (issue 16, item 2; docs/api.md "Reflection suppression"): the
 * openai SDK -> thinkgate -> simulator. The simulator honours logit_bias -100 as vLLM does in
 * practice (the token is never sampled: its scripted model writes its next word instead), so a
 * ban that reached a thinking segment shows in the thinking text, and one that reached the answer
 * would show in the answer.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { startStack, type Stack, segmentRequests } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: { models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } } } });
});
afterAll(async () => stack.close());
beforeEach(() => stack.sim.reset());

type Extra = { reasoning_content?: string | null };
type WithBf = { budget_forcing: { reflection_ids_banned?: number; thinking_tokens: number; extensions: number } };
// Not one of the simulator's word problems: its fixed thinking script says "need" and "check".
const messages = [{ role: 'user' as const, content: 'Describe the sea.' }];

function segments(): Record<string, unknown>[] {
  return segmentRequests(stack.sim).map((r) => r.body as Record<string, unknown>);
}

async function ids(text: string): Promise<number[]> {
  const res = await fetch(`${stack.sim.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-r1', prompt: text, add_special_tokens: false }) });
  return ((await res.json()) as { tokens: number[] }).tokens;
}

describe('suppress_reflection', () => {
  it('a list: its one-token spellings never appear in the thinking; the answer is untouched', async () => {
    const plain = await stack.client.chat.completions.create({ model: 'sim-r1', messages, max_tokens: 400 });
    const plainThinking = (plain.choices[0]!.message as Extra).reasoning_content!;
    expect(plainThinking).toContain(' check');
    expect(plainThinking).toContain(' need');
    stack.sim.reset();

    const res = (await stack.client.chat.completions.create({ model: 'sim-r1', messages, max_tokens: 400, suppress_reflection: ['check', 'need', 'answer'] } as never)) as OpenAI.ChatCompletion & WithBf;
    const thinking = (res.choices[0]!.message as Extra).reasoning_content!;
    expect(thinking).not.toMatch(/\bcheck\b|\bneed\b/i);
    // "answer" is banned too, but only while thinking: the answer still says it.
    expect(res.choices[0]!.message.content).toContain('answer');
    expect(res.budget_forcing.reflection_ids_banned).toBeGreaterThanOrEqual(3);

    const segs = segments();
    expect(segs).toHaveLength(2); // the answer comes in a segment of its own, without the ban
    const bias = segs[0]!.logit_bias as Record<string, number>;
    for (const id of [...(await ids(' check')), ...(await ids(' need'))]) expect(bias[String(id)]).toBe(-100);
    expect(segs[1]!.logit_bias).toBeUndefined();
  });

  it('true: the profile\'s phrases (Wait, Hmm, Alternatively); composes with a minimum, whose "Wait" thinkgate still inserts', async () => {
    const res = (await stack.client.chat.completions.create({ model: 'sim-r1', messages, max_tokens: 600, suppress_reflection: true, min_thinking_tokens: 40 } as never)) as OpenAI.ChatCompletion & WithBf;
    expect(res.budget_forcing.extensions).toBeGreaterThanOrEqual(1);
    expect((res.choices[0]!.message as Extra).reasoning_content).toContain('Wait');
    const bias = segments()[0]!.logit_bias as Record<string, number>;
    for (const id of await ids('Wait')) expect(bias[String(id)]).toBe(-100);
  });

  it("keeps the client's own logit_bias on every segment, the ban winning on thinking segments", async () => {
    const [wait] = await ids(' Wait');
    await stack.client.chat.completions.create({ model: 'sim-r1', messages, max_tokens: 400, suppress_reflection: ['Wait'], logit_bias: { [String(wait)]: 5, '7': 3 } } as never);
    const [thinkingSeg, answerSeg] = segments();
    expect(thinkingSeg!.logit_bias).toMatchObject({ [String(wait)]: -100, '7': 3 });
    expect(answerSeg!.logit_bias).toEqual({ [String(wait)]: 5, '7': 3 });
  });

  it('on /v1/completions too', async () => {
    const res = await fetch(`${stack.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-r1', prompt: 'Q: 6 x 7?\n<think>\n', max_tokens: 300, suppress_reflection: ['check'] }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { text: string }[]; budget_forcing: { reflection_ids_banned: number } };
    expect(body.choices[0]!.text.split('</think>')[0]).not.toMatch(/\bcheck\b/);
    expect(body.budget_forcing.reflection_ids_banned).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['an empty list', []],
    ['a phrase too long', ['x'.repeat(65)]],
    ['too many phrases', Array.from({ length: 65 }, (_, i) => `w${i}`)],
    ['a number', 3],
  ])('%s is a 400 naming suppress_reflection', async (_n, value) => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-r1', messages, suppress_reflection: value }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toMatch(/^suppress_reflection/);
  });
});
