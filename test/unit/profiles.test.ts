import { describe, expect, it } from 'vitest';
import { loadConfigFromObject, type Config } from '../../src/config/index.js';
import { BUILTIN_PROFILES, DEFAULT_PROFILE_NAME } from '../../src/profiles/builtin.js';
import { REASONING_EFFORTS, type ReasoningEffort } from '../../src/profiles/profile.js';
import { compileModelGlob, createProfileRegistry, resolveModelPolicy } from '../../src/profiles/registry.js';
import { s1Profile } from '../../src/profiles/s1.js';
import { thinkTagsProfile } from '../../src/profiles/think-tags.js';

const UP = { upstreams: ['http://127.0.0.1:8000'] };
const config = (file: Record<string, unknown>): Config => loadConfigFromObject({ ...UP, ...file });
const EFFORTS: ReasoningEffort[] = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'];

it("the effort levels are vLLM 0.32's reasoning_effort literals, lowest first", () => {
  // vllm/entrypoints/openai/chat_completion/protocol.py: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
  expect(REASONING_EFFORTS).toEqual(EFFORTS);
});

describe('built-in profiles', () => {
  it('think-tags has the spec delimiters', () => {
    expect(thinkTagsProfile).toMatchObject({
      name: 'think-tags',
      thinking_start: '<think>',
      thinking_end: '</think>',
      forced_close: '\n</think>\n\n',
      open_text: '<think>\n',
      extension: 'Wait',
    });
  });

  it('s1 has the spec delimiters and opens thinking without a newline', () => {
    expect(s1Profile).toMatchObject({
      name: 's1',
      thinking_start: '<|im_start|>think',
      thinking_end: '<|im_start|>answer',
      forced_close: '\n<|im_start|>answer\nFinal Answer:',
      open_text: '<|im_start|>think',
      extension: 'Wait',
    });
  });

  it('both are registered by name, think-tags is the default, and lookups ignore the prototype', () => {
    expect(Object.keys(BUILTIN_PROFILES)).toEqual(['think-tags', 's1']);
    expect(BUILTIN_PROFILES['think-tags']).toBe(thinkTagsProfile);
    expect(BUILTIN_PROFILES['s1']).toBe(s1Profile);
    expect(DEFAULT_PROFILE_NAME).toBe('think-tags');
    expect(BUILTIN_PROFILES['constructor']).toBeUndefined();
  });

  it.each([thinkTagsProfile, s1Profile])('$name: effort presets grow with effort, none skips thinking', (p) => {
    expect(p.effort.none).toEqual({ max_thinking_tokens: 0 });
    const maxes = EFFORTS.map((e) => p.effort[e]?.max_thinking_tokens ?? -1);
    expect(maxes).toEqual([0, 512, 1024, 4096, 16384, 32768, 131072]);
    for (const e of EFFORTS) {
      const preset = p.effort[e] ?? {};
      expect(preset.min_thinking_tokens ?? 0).toBeLessThanOrEqual(preset.max_thinking_tokens ?? Infinity);
    }
    expect(p.effort.high?.min_thinking_tokens).toBe(2048);
    expect(p.effort.xhigh?.min_thinking_tokens).toBe(4096);
    expect(p.effort.max?.min_thinking_tokens).toBe(8192);
    // The forced close must contain the end delimiter, or the model would not see thinking end.
    expect(p.forced_close).toContain(p.thinking_end);
  });

  it('are frozen, presets included', () => {
    expect(Object.isFrozen(thinkTagsProfile)).toBe(true);
    expect(Object.isFrozen(s1Profile.effort)).toBe(true);
    // ES modules are strict: writing to a frozen object throws.
    expect(() => {
      (thinkTagsProfile.effort.high as { max_thinking_tokens: number }).max_thinking_tokens = 1;
    }).toThrow(TypeError);
  });
});

describe('compileModelGlob', () => {
  it.each([
    ['*', 'simplescaling/s1.1-32B', true],
    ['*', 'Qwen/QwQ-32B', true],
    ['*', '.hidden/x', true],
    ['simplescaling/s1*', 'simplescaling/s1.1-32B', true],
    ['simplescaling/s1*', 'simplescaling/s1-32B', true],
    ['simplescaling/s1*', 'other/s1-32B', false],
    ['*s1*', 'simplescaling/s1.1-32B', true],
    ['*/QwQ*', 'Qwen/QwQ-32B', true],
    ['deepseek-ai/*', 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B', true],
    ['deepseek-ai/*', 'deepseek-ai', false],
    ['Qwen/Qwen3-{8,14}B', 'Qwen/Qwen3-14B', true],
    ['Qwen/Qwen3-{8,14}B', 'Qwen/Qwen3-32B', false],
    ['*qwen3*', 'Qwen/Qwen3-8B', false], // case-sensitive, as vLLM's model ids
    ['my-model', 'my-model', true],
    ['my-model', 'my-model-2', false],
  ])('%s vs %s -> %s', (pattern, id, expected) => {
    expect(compileModelGlob(pattern)(id)).toBe(expected);
  });
});

describe('resolveModelPolicy / createProfileRegistry', () => {
  const cfg = config({
    defaults: { max_thinking_tokens: 8000, max_thinking_extensions: 3 },
    models: {
      'simplescaling/s1*': { profile: 's1', max_thinking_tokens: 4000, min_thinking_tokens: 100 },
      'Qwen/*': { profile: 'think-tags', thinking_extension: 'Hmm', effort: { high: { max_thinking_tokens: 32768 } } },
      '*': { profile: 's1', max_thinking_extensions: 1 },
    },
  });

  it('first match wins, in file order', () => {
    const reg = createProfileRegistry(cfg);
    expect(reg.policyFor('simplescaling/s1.1-32B').profile.name).toBe('s1');
    expect(reg.policyFor('Qwen/QwQ-32B').profile.name).toBe('think-tags');
    // '*' matches ids with '/', and catches the rest.
    expect(reg.policyFor('deepseek-ai/DeepSeek-R1').profile.name).toBe('s1');
  });

  it('an earlier "*" shadows later entries', () => {
    const c = config({ models: { '*': { profile: 'think-tags' }, 'simplescaling/s1*': { profile: 's1' } } });
    expect(resolveModelPolicy(c, 'simplescaling/s1-32B').profile.name).toBe('think-tags');
  });

  it("overlays the entry's budget keys on the global defaults", () => {
    const reg = createProfileRegistry(cfg);
    expect(reg.policyFor('simplescaling/s1-32B').defaults).toEqual({
      max_thinking_tokens: 4000,
      min_thinking_tokens: 100,
      max_thinking_extensions: 3,
      thinking_extension: 'Wait',
    });
    expect(reg.policyFor('Qwen/QwQ-32B').defaults).toEqual({
      max_thinking_tokens: 8000,
      max_thinking_extensions: 3,
      thinking_extension: 'Hmm',
    });
    expect(reg.policyFor('x').defaults.max_thinking_extensions).toBe(1);
  });

  it('an unmatched model uses think-tags with the global defaults', () => {
    const c = config({ defaults: { min_thinking_tokens: 10 }, models: { 'a/*': { profile: 's1' } } });
    const p = resolveModelPolicy(c, 'b/model');
    expect(p.profile).toBe(thinkTagsProfile);
    expect(p.defaults).toEqual({ min_thinking_tokens: 10, max_thinking_extensions: 8, thinking_extension: 'Wait' });
    expect(resolveModelPolicy(config({}), 'anything').profile.name).toBe('think-tags');
  });

  it("an operator's think-tags override is what unmatched models get", () => {
    const c = config({ profiles: { 'think-tags': { extension: 'Hmm' } } });
    const p = resolveModelPolicy(c, 'some/model');
    expect(p.profile.extension).toBe('Hmm');
    expect(p.profile.thinking_start).toBe('<think>');
    expect(p.defaults.thinking_extension).toBe('Hmm'); // the profile's phrase, global left at 'Wait'
  });

  it('the extension: entry > global (when set) > profile', () => {
    const profiles = { mine: { thinking_start: '<t>', thinking_end: '</t>', forced_close: '</t>', extension: 'But' } };
    const models = { 'a*': { profile: 'mine', thinking_extension: 'Entry' }, '*': { profile: 'mine' } };
    const c1 = config({ profiles, models });
    expect(resolveModelPolicy(c1, 'ab').defaults.thinking_extension).toBe('Entry');
    expect(resolveModelPolicy(c1, 'b').defaults.thinking_extension).toBe('But');
    const c2 = config({ profiles, models, defaults: { thinking_extension: 'Global' } });
    expect(resolveModelPolicy(c2, 'b').defaults.thinking_extension).toBe('Global');
  });

  it("an operator's explicit 'Wait' wins over a profile's own phrase", () => {
    const profiles = { mine: { thinking_start: '<t>', thinking_end: '</t>', forced_close: '</t>', extension: 'But' } };
    const models = { 'a*': { profile: 'mine', thinking_extension: 'Entry' }, '*': { profile: 'mine' } };
    const c = config({ profiles, models, defaults: { thinking_extension: 'Wait' } });
    expect(resolveModelPolicy(c, 'b').defaults.thinking_extension).toBe('Wait');
    expect(resolveModelPolicy(c, 'ab').defaults.thinking_extension).toBe('Entry'); // the entry still wins
    // Left unset, the profile's phrase wins over the built-in 'Wait'.
    expect(resolveModelPolicy(config({ profiles, models }), 'b').defaults.thinking_extension).toBe('But');
  });

  it("an entry's effort replaces the profile's presets level by level", () => {
    const p = resolveModelPolicy(cfg, 'Qwen/Qwen3-8B').profile;
    expect(p.effort.high).toEqual({ max_thinking_tokens: 32768 }); // whole level replaced, no min 2048 left
    expect(p.effort.low).toEqual({ max_thinking_tokens: 1024 });
    expect(p.thinking_start).toBe('<think>');
    expect(thinkTagsProfile.effort.high).toEqual({ max_thinking_tokens: 16384, min_thinking_tokens: 2048 });
  });

  it('caches per model id, and the cache is bounded', () => {
    const reg = createProfileRegistry(cfg, { cacheSize: 2 });
    const a = reg.policyFor('a');
    expect(reg.policyFor('a')).toBe(a);
    reg.policyFor('b');
    reg.policyFor('a'); // 'a' is now the most recent
    reg.policyFor('c'); // evicts 'b'
    expect(reg.policyFor('a')).toBe(a);
    const b = reg.policyFor('b');
    expect(reg.policyFor('b')).toBe(b);
    reg.policyFor('c');
    reg.policyFor('d'); // 'a' has been evicted by now (least recently used)
    expect(reg.policyFor('a')).not.toBe(a);
    expect(reg.policyFor('a')).toEqual(a);
  });

  it('policies are frozen', () => {
    const p = createProfileRegistry(cfg).policyFor('Qwen/x');
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.defaults)).toBe(true);
    expect(Object.isFrozen(p.profile.effort)).toBe(true);
  });

  it('profile(name) finds built-in and operator profiles only', () => {
    const c = config({ profiles: { mine: { thinking_start: '<t>', thinking_end: '</t>', forced_close: '</t>', extension: 'W' } } });
    const reg = createProfileRegistry(c);
    expect(reg.profile('s1')).toBe(s1Profile);
    expect(reg.profile('mine')?.thinking_end).toBe('</t>');
    expect(reg.profile('constructor')).toBeUndefined();
    expect(reg.profile('toString')).toBeUndefined();
    expect(reg.profileNames).toEqual(['think-tags', 's1', 'mine']);
  });
});
