/**
 * thinking_early_exit -> EngineInput.earlyExit (src/runs/early-exit.ts): the profile's defaults,
 * the request's own values, the probe suffix (forced close + answer prefix ids), the answer read
 * from prefix + probe text, and min_confidence refused where the server gives no logprobs.
 */
import { describe, expect, it } from 'vitest';
import { checkEarlyExit, earlyExitFor } from '../../src/runs/early-exit.js';
import type { Backend } from '../../src/engine/backend.js';
import { thinkTags } from '../support/fake-model-backend.js';
import { InvalidRequestError } from '../../src/errors.js';

const backend = (over: Partial<Backend> = {}): Backend =>
  ({ name: 'b', tokenize: async (_m: string, text: string) => [...text].map((c) => c.charCodeAt(0)), ...over }) as unknown as Backend;
const signal = new AbortController().signal;

describe('early exit from the request', () => {
  it('off unless asked', async () => {
    expect(await earlyExitFor(undefined, backend(), 'm', thinkTags, signal)).toBeUndefined();
    expect(await earlyExitFor(false, backend(), 'm', thinkTags, signal)).toBeUndefined();
  });

  it('true: the defaults; the probe suffix is the forced close + the answer prefix; answers read from prefix + text', async () => {
    const ee = (await earlyExitFor(true, backend(), 'm', thinkTags, signal))!;
    expect(ee).toMatchObject({ intervalTokens: 256, agreements: 3, probeMaxTokens: 16 });
    expect(ee.probeIds.slice(0, thinkTags.forcedCloseIds.length)).toEqual(thinkTags.forcedCloseIds);
    expect(String.fromCharCode(...ee.probeIds.slice(thinkTags.forcedCloseIds.length))).toBe('The final answer is \\boxed{');
    expect(ee.extract('42}.')).toBe('42');
    expect(ee.extract(' 4 2 }')).toBe('4 2');
    expect(ee.extract('42 and more')).toBeNull(); // the brace never closed within the probe
    expect(ee.minConfidence).toBeUndefined();
  });

  it("the request's values win; a profile's own defaults and prefix apply", async () => {
    const profile = { ...thinkTags, profile: { ...thinkTags.profile, answer_prefix: 'Answer: \\boxed{', early_exit: { agreements: 2, probe_max_tokens: 8 } } };
    const ee = (await earlyExitFor({ probe_interval_tokens: 64, min_confidence: -0.3 }, backend(), 'm', profile, signal))!;
    expect(ee).toMatchObject({ intervalTokens: 64, agreements: 2, probeMaxTokens: 8, minConfidence: -0.3 });
    expect(ee.extract('7}')).toBe('7');
  });

  it('min_confidence is refused on a server without per-token logprobs (llama.cpp), naming it', () => {
    let err: unknown;
    try {
      checkEarlyExit({ min_confidence: -1 }, backend({ tokenLogprobs: false }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).param).toBe('thinking_early_exit.min_confidence');
    expect(() => checkEarlyExit({ min_confidence: -1 }, backend())).not.toThrow();
  });
});
