import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { maxCompletionTokens, resolveBudgetFields } from '../../src/openai/budget.js';
import { parseChatRequest } from '../../src/openai/chat-request.js';
import type { BudgetDefaults, ModelPolicy, Profile } from '../../src/profiles/profile.js';
import { thinkTagsProfile } from '../../src/profiles/think-tags.js';

const profile: Profile = {
  name: 'think-tags',
  thinking_start: '<think>',
  thinking_end: '</think>',
  forced_close: '\n</think>\n\n',
  open_text: '<think>\n',
  extension: 'Wait',
  effort: {
    low: { max_thinking_tokens: 256 },
    medium: { max_thinking_tokens: 1024, min_thinking_tokens: 128 },
    high: { max_thinking_tokens: 8192, min_thinking_tokens: 1024, max_thinking_extensions: 3 },
  },
};
const globals = { max_thinking_extensions: 8, thinking_extension: 'Hmm' };

function policy(defaults: BudgetDefaults = {}, p: Partial<Profile> = {}): ModelPolicy {
  return { profile: { ...profile, ...p }, defaults };
}
function req(fields: Record<string, unknown>) {
  return parseChatRequest({ model: 'm', messages: [{ role: 'user', content: 'q' }], ...fields });
}
function resolve(fields: Record<string, unknown>, pol: ModelPolicy = policy()) {
  return resolveBudgetFields(req(fields), pol, globals);
}
function rejectOf(fields: Record<string, unknown>, pol: ModelPolicy = policy()): InvalidRequestError {
  try {
    resolve(fields, pol);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return err as InvalidRequestError;
  }
  throw new Error('expected a 400');
}

describe('resolveBudgetFields', () => {
  it('with nothing set: unbounded M, m = 0, the global E, the profile phrase', () => {
    expect(resolve({})).toEqual({ maxThinkingTokens: null, minThinkingTokens: 0, maxExtensions: 8, extensionText: 'Wait' });
  });

  it('takes every explicit request field', () => {
    expect(
      resolve({ max_thinking_tokens: 500, min_thinking_tokens: 100, max_thinking_extensions: 2, thinking_extension: 'But wait' }),
    ).toEqual({ maxThinkingTokens: 500, minThinkingTokens: 100, maxExtensions: 2, extensionText: 'But wait' });
  });

  it('reads M from each alias', () => {
    expect(resolve({ thinking_token_budget: 300 }).maxThinkingTokens).toBe(300);
    expect(resolve({ thinking: { type: 'enabled', budget_tokens: 200 } }).maxThinkingTokens).toBe(200);
    expect(resolve({ thinking: { type: 'disabled' } }).maxThinkingTokens).toBe(0);
    expect(resolve({ thinking: { type: 'enabled' } }).maxThinkingTokens).toBe(null);
    expect(resolve({ max_thinking_tokens: 0 }).maxThinkingTokens).toBe(0);
  });

  it('accepts aliases that agree', () => {
    expect(resolve({ max_thinking_tokens: 64, thinking_token_budget: 64, thinking: { type: 'enabled', budget_tokens: 64 } }).maxThinkingTokens).toBe(64);
    expect(resolve({ max_thinking_tokens: 0, thinking: { type: 'disabled' } }).maxThinkingTokens).toBe(0);
  });

  it('rejects aliases that disagree, naming the second one', () => {
    const a = rejectOf({ max_thinking_tokens: 64, thinking_token_budget: 65 });
    expect(a.param).toBe('thinking_token_budget');
    expect(a.message).toBe('thinking_token_budget (65) conflicts with max_thinking_tokens (64); send one of them.');
    expect(rejectOf({ thinking_token_budget: 10, thinking: { type: 'enabled', budget_tokens: 11 } }).param).toBe('thinking.budget_tokens');
    expect(rejectOf({ max_thinking_tokens: 10, thinking: { type: 'disabled' } }).param).toBe('thinking.type');
    expect(rejectOf({ thinking: { type: 'disabled', budget_tokens: 5 } }).param).toBe('thinking.type');
  });

  it('m > M is a 400 naming min_thinking_tokens and both values (docs/budget-forcing.md)', () => {
    const err = rejectOf({ max_thinking_tokens: 100, min_thinking_tokens: 101 });
    expect(err.status).toBe(400);
    expect(err.param).toBe('min_thinking_tokens');
    expect(err.message).toBe('min_thinking_tokens (101) must not exceed max_thinking_tokens (100).');
    expect(rejectOf({ thinking_token_budget: 5, min_thinking_tokens: 6 }).message).toBe(
      'min_thinking_tokens (6) must not exceed thinking_token_budget (5).',
    );
    expect(resolve({ max_thinking_tokens: 100, min_thinking_tokens: 100 })).toMatchObject({ maxThinkingTokens: 100, minThinkingTokens: 100 });
    expect(resolve({ min_thinking_tokens: 10_000 })).toMatchObject({ maxThinkingTokens: null, minThinkingTokens: 10_000 });
  });

  it('an explicit m above a configured M is a 400 that says where M came from', () => {
    expect(rejectOf({ min_thinking_tokens: 300 }, policy({ max_thinking_tokens: 200 })).message).toBe(
      "min_thinking_tokens (300) must not exceed the model's default max_thinking_tokens (200).",
    );
    expect(rejectOf({ reasoning_effort: 'low', min_thinking_tokens: 300 }).message).toBe(
      "min_thinking_tokens (300) must not exceed the max_thinking_tokens of reasoning_effort 'low' (256).",
    );
  });

  it('a configured m above an explicit M shrinks to M instead of failing the request', () => {
    expect(resolve({ max_thinking_tokens: 50 }, policy({ min_thinking_tokens: 200 }))).toMatchObject({
      maxThinkingTokens: 50,
      minThinkingTokens: 50,
    });
    expect(resolve({ max_thinking_tokens: 50, reasoning_effort: 'high' })).toMatchObject({ maxThinkingTokens: 50, minThinkingTokens: 50 });
  });

  it("takes every vLLM 0.32 effort (xhigh and max included) from the built-in presets", () => {
    const builtin = policy({}, thinkTagsProfile);
    expect(resolve({ reasoning_effort: 'xhigh' }, builtin)).toMatchObject({ maxThinkingTokens: 32768, minThinkingTokens: 4096 });
    expect(resolve({ reasoning_effort: 'max' }, builtin)).toMatchObject({ maxThinkingTokens: 131072, minThinkingTokens: 8192 });
    expect(resolve({ reasoning_effort: 'none' }, builtin)).toMatchObject({ maxThinkingTokens: 0, minThinkingTokens: 0 });
    // A profile without the level (operator-defined, older config) changes nothing.
    expect(resolve({ reasoning_effort: 'xhigh' })).toEqual(resolve({}));
  });

  it('applies the reasoning_effort preset, with explicit fields winning per field', () => {
    expect(resolve({ reasoning_effort: 'high' })).toEqual({
      maxThinkingTokens: 8192,
      minThinkingTokens: 1024,
      maxExtensions: 3,
      extensionText: 'Wait',
    });
    expect(resolve({ reasoning_effort: 'high', max_thinking_tokens: 4096, max_thinking_extensions: 0 })).toEqual({
      maxThinkingTokens: 4096,
      minThinkingTokens: 1024,
      maxExtensions: 0,
      extensionText: 'Wait',
    });
    expect(resolve({ reasoning_effort: 'medium', thinking: { type: 'disabled' } })).toMatchObject({ maxThinkingTokens: 0, minThinkingTokens: 0 });
  });

  it('falls back from an absent preset: none means M = 0, minimal changes nothing', () => {
    expect(resolve({ reasoning_effort: 'none' }).maxThinkingTokens).toBe(0);
    expect(resolve({ reasoning_effort: 'minimal' })).toEqual(resolve({}));
    expect(resolve({ reasoning_effort: 'none' }, policy({}, { effort: { none: { max_thinking_tokens: 16 } } })).maxThinkingTokens).toBe(16);
  });

  it('preset beats model defaults; model defaults beat globals', () => {
    const pol = policy({ max_thinking_tokens: 2000, min_thinking_tokens: 10, max_thinking_extensions: 4, thinking_extension: 'Hold on' });
    expect(resolve({}, pol)).toEqual({ maxThinkingTokens: 2000, minThinkingTokens: 10, maxExtensions: 4, extensionText: 'Hold on' });
    expect(resolve({ reasoning_effort: 'medium' }, pol)).toEqual({
      maxThinkingTokens: 1024,
      minThinkingTokens: 128,
      maxExtensions: 4,
      extensionText: 'Hold on',
    });
  });

  it('extension phrase: request > model default > profile > global', () => {
    expect(resolve({ thinking_extension: 'Hm' }, policy({ thinking_extension: 'Hold on' })).extensionText).toBe('Hm');
    expect(resolve({}, policy({ thinking_extension: 'Hold on' })).extensionText).toBe('Hold on');
    expect(resolve({}, policy({}, { extension: 'Wait, ' })).extensionText).toBe('Wait, ');
    expect(resolve({}, policy({ thinking_extension: '' }, { extension: '' })).extensionText).toBe('Hmm');
  });
});

describe('maxCompletionTokens', () => {
  it('prefers max_completion_tokens, then max_tokens, else null', () => {
    expect(maxCompletionTokens(req({}))).toBe(null);
    expect(maxCompletionTokens(req({ max_tokens: 10 }))).toBe(10);
    expect(maxCompletionTokens(req({ max_completion_tokens: 20 }))).toBe(20);
    expect(maxCompletionTokens(req({ max_tokens: 10, max_completion_tokens: 20 }))).toBe(20);
    expect(maxCompletionTokens(req({ max_tokens: 30, max_completion_tokens: 20 }))).toBe(20);
    expect(maxCompletionTokens(req({ max_tokens: null, max_completion_tokens: 7 }))).toBe(7);
  });
});

describe('resolveBudgetFields: the operator ceiling on E (issue 11 item 7)', () => {
  it('clamps a larger E to the ceiling and says so; an E within it is kept as is', () => {
    const r = resolveBudgetFields(req({ max_thinking_extensions: 1_000_000_000 }), policy(), globals, 32);
    expect(r.maxExtensions).toBe(32);
    expect(r.extensionsClampedTo).toBe(32);
    const ok = resolveBudgetFields(req({ max_thinking_extensions: 32 }), policy(), globals, 32);
    expect(ok.maxExtensions).toBe(32);
    expect(ok.extensionsClampedTo).toBeUndefined();
  });
});
