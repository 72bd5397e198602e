import { describe, expect, it } from 'vitest';
import { renderChatTemplate, type TemplateKind } from '../../src/sim/chat-template.js';
import { createGeneration, type GenerationParams, type GenerationStep } from '../../src/sim/generation.js';
import { createScriptedModel } from '../../src/sim/model.js';
import { createPrefixCache } from '../../src/sim/prefix-cache.js';
import { EOS_ID, IM_START_ID, THINK_END_ID, THINK_START_ID, createSimTokenizer } from '../../src/sim/tokenizer.js';

const tok = createSimTokenizer();
const NL = tok.id('\n');
const NL2 = tok.id('\n\n');
const WAIT = tok.id('Wait');
const model = createScriptedModel(tok, { thinkTokens: 30, extendTokens: 10, answerTokens: 12, extensionWords: ['Wait'] });
const ANSWER_TEXT = 'The answer is 42. It follows from the steps above.';

const base: GenerationParams = {
  maxTokens: 1000,
  minTokens: 0,
  stopTokenIds: [],
  stop: [],
  ignoreEos: false,
  skipSpecialTokens: false,
  includeStopStrInOutput: false,
  maxModelLen: 8192,
  bannedIds: new Set<number>(),
};

function chatPrompt(kind: TemplateKind, kwargs?: Record<string, unknown>): number[] {
  return tok.encode(
    renderChatTemplate([{ role: 'user', content: [{ type: 'text', text: 'What is 6 times 7?' }] }], {
      kind,
      chatTemplateKwargs: kwargs,
    }),
  );
}

function generate(prompt: number[], kind: TemplateKind, p: Partial<GenerationParams> = {}, sampling = {}) {
  const gen = createGeneration(model.start(prompt, kind, sampling), tok, prompt.length, { ...base, ...p });
  const steps: GenerationStep[] = [];
  while (!gen.finished) steps.push(gen.next());
  return { ids: [...gen.outputIds], steps, gen, streamed: steps.map((s) => s.text).join('') };
}

const isWord = (id: number): boolean => id >= 264;

describe('sim chat template', () => {
  it('renders ChatML and opens thinking per template kind', () => {
    const msgs = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ];
    const head = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    expect(renderChatTemplate(msgs, { kind: 'r1' })).toBe(`${head}<think>\n`);
    expect(renderChatTemplate(msgs, { kind: 'qwen3' })).toBe(head);
    expect(renderChatTemplate(msgs, { kind: 'qwen3', chatTemplateKwargs: { enable_thinking: false } })).toBe(
      `${head}<think>\n\n</think>\n\n`,
    );
    expect(renderChatTemplate(msgs, { kind: 's1' })).toBe(head);
    expect(renderChatTemplate(msgs, { kind: 's1', addGenerationPrompt: false })).toBe(head.slice(0, -'<|im_start|>assistant\n'.length));
  });
});

describe('sim scripted model: exact sequences', () => {
  it('r1: thinks thinkTokens, closes with </think> "\\n\\n", answers answerTokens, then EOS', () => {
    const { ids, gen } = generate(chatPrompt('r1'), 'r1');
    expect(ids).toHaveLength(30 + 2 + 12 + 1);
    expect(ids.slice(0, 30).every(isWord)).toBe(true);
    expect(ids.slice(0, 30)).not.toContain(WAIT);
    expect(tok.decode(ids.slice(0, 9))).toBe('Let me consider the problem step by step.');
    expect(ids.slice(30, 32)).toEqual([THINK_END_ID, NL2]);
    expect(tok.decode(ids.slice(32, 44))).toBe(ANSWER_TEXT);
    expect(ids[44]).toBe(EOS_ID);
    expect(gen.finishReason).toBe('stop');
    expect(gen.stopReason).toBeNull();
    // EOS is in the ids, its text is not in the output text (vLLM stop semantics).
    expect(gen.text).toBe(tok.decode(ids.slice(0, 44)));
    expect(gen.text).not.toContain('<|im_end|>');
  });

  it('qwen3 with thinking not opened: the model opens it itself', () => {
    const { ids } = generate(chatPrompt('qwen3'), 'qwen3');
    expect(ids.slice(0, 2)).toEqual([THINK_START_ID, NL]);
    expect(ids.slice(2, 32).every(isWord)).toBe(true);
    expect(ids.slice(32, 34)).toEqual([THINK_END_ID, NL2]);
    expect(tok.decode(ids.slice(34, 46))).toBe(ANSWER_TEXT);
    expect(ids.slice(46)).toEqual([EOS_ID]);
  });

  it('qwen3 with enable_thinking false answers directly', () => {
    const prompt = chatPrompt('qwen3', { enable_thinking: false });
    expect(prompt.slice(-4)).toEqual([THINK_START_ID, NL2, THINK_END_ID, NL2]);
    const { ids } = generate(prompt, 'qwen3');
    expect(tok.decode(ids.slice(0, 12))).toBe(ANSWER_TEXT);
    expect(ids.slice(12)).toEqual([EOS_ID]);
  });

  it('s1 after the gateway appends <|im_start|>think: "\\n", thinking, <|im_start|>answer "\\n", answer, EOS', () => {
    const prompt = [...chatPrompt('s1'), ...tok.encode('<|im_start|>think')];
    const { ids } = generate(prompt, 's1');
    expect(ids[0]).toBe(NL);
    expect(ids.slice(1, 31).every(isWord)).toBe(true);
    expect(ids.slice(31, 34)).toEqual([IM_START_ID, tok.id('answer'), NL]);
    expect(tok.decode(ids.slice(34, 46))).toBe(ANSWER_TEXT);
    expect(ids.slice(46)).toEqual([EOS_ID]);
  });

  it('s1 with nothing opened opens <|im_start|>think itself', () => {
    const { ids } = generate(chatPrompt('s1'), 's1');
    expect(ids.slice(0, 3)).toEqual([IM_START_ID, tok.id('think'), NL]);
    expect(ids.slice(33, 36)).toEqual([IM_START_ID, tok.id('answer'), NL]);
  });

  it('s1 finishes a half-written end delimiter (<|im_start|> already in the prompt)', () => {
    const prompt = [...chatPrompt('s1'), ...tok.encode('<|im_start|>think\nLet me<|im_start|>')];
    const { ids } = generate(prompt, 's1');
    expect(ids.slice(0, 2)).toEqual([tok.id('answer'), NL]);
    expect(tok.decode(ids.slice(2, 14))).toBe(ANSWER_TEXT);
  });
});

describe('sim scripted model: reaction to extensions and forced closes', () => {
  const r1 = chatPrompt('r1');
  const thought = generate(r1, 'r1').ids.slice(0, 30);

  it('after a Wait at the end of a full thinking span it thinks exactly extendTokens, then closes', () => {
    for (const wait of [WAIT, tok.id(' Wait')]) {
      const { ids } = generate([...r1, ...thought, wait], 'r1');
      expect(ids.slice(0, 10).every(isWord)).toBe(true);
      expect(ids[10]).toBe(THINK_END_ID);
    }
  });

  it('an early Wait also gives exactly extendTokens (the last Wait counts)', () => {
    const { ids } = generate([...r1, ...thought.slice(0, 5), WAIT, ...thought.slice(5, 8), WAIT], 'r1');
    expect(ids.indexOf(THINK_END_ID)).toBe(10);
    const { ids: ids2 } = generate([...r1, ...thought.slice(0, 5), WAIT, ...thought.slice(5, 8)], 'r1');
    expect(ids2.indexOf(THINK_END_ID)).toBe(7); // 3 of the 10 already written after the Wait
    const { ids: ids3 } = generate([...r1, WAIT, ...thought.slice(0, 12)], 'r1');
    expect(ids3[0]).toBe(THINK_END_ID); // 12 >= 10 after the Wait: close at once
  });

  it('does not count a leading "\\n" and keeps counting a partial span to thinkTokens', () => {
    const { ids } = generate([...r1, ...thought.slice(0, 20)], 'r1');
    expect(ids.indexOf(THINK_END_ID)).toBe(10);
    expect(ids.slice(0, 10)).toEqual(thought.slice(20, 30)); // position-dependent words continue
  });

  it('answers directly after a forced close (think-tags and s1)', () => {
    const closed = generate([...r1, ...thought.slice(0, 4), ...tok.encode('\n</think>\n\n')], 'r1').ids;
    expect(tok.decode(closed.slice(0, 12))).toBe(ANSWER_TEXT);
    expect(closed.slice(12)).toEqual([EOS_ID]);
    const s1 = [...chatPrompt('s1'), ...tok.encode('<|im_start|>think\nLet me\n<|im_start|>answer\nFinal Answer:')];
    const out = generate(s1, 's1').ids;
    // "Final Answer:" are 3 of the 12 answer tokens.
    expect(out).toHaveLength(9 + 1);
    expect(out.at(-1)).toBe(EOS_ID);
    expect(out).not.toContain(IM_START_ID);
  });

  it('is stateless: continuing from any cut reproduces the rest token for token', () => {
    for (const kind of ['r1', 'qwen3', 's1'] as const) {
      const prompt = chatPrompt(kind);
      const full = generate(prompt, kind).ids;
      for (let cut = 0; cut < full.length; cut++) {
        expect(generate([...prompt, ...full.slice(0, cut)], kind).ids).toEqual(full.slice(cut));
      }
    }
  });

  it('varies words with temperature > 0 and a seed, deterministically', () => {
    const plain = generate(r1, 'r1').ids;
    const a = generate(r1, 'r1', {}, { temperature: 0.7, seed: 1 }).ids;
    const b = generate(r1, 'r1', {}, { temperature: 0.7, seed: 2 }).ids;
    expect(generate(r1, 'r1', {}, { temperature: 0.7, seed: 1 }).ids).toEqual(a);
    expect(a).not.toEqual(b);
    expect(generate(r1, 'r1', {}, { temperature: 0, seed: 1 }).ids).toEqual(plain);
    expect(a.indexOf(THINK_END_ID)).toBe(30);
  });
});

describe('sim generation: vLLM stop semantics', () => {
  const r1 = chatPrompt('r1');

  it('stop_token_ids: the id is in the output, its text is not, stop_reason is the id', () => {
    const { ids, gen } = generate(r1, 'r1', { stopTokenIds: [THINK_END_ID] });
    expect(ids).toHaveLength(31);
    expect(ids.at(-1)).toBe(THINK_END_ID);
    expect(gen.finishReason).toBe('stop');
    expect(gen.stopReason).toBe(THINK_END_ID);
    expect(gen.text).not.toContain('</think>');
    const incl = generate(r1, 'r1', { stopTokenIds: [THINK_END_ID], includeStopStrInOutput: true }).gen;
    expect(incl.text.endsWith('</think>')).toBe(true);
  });

  it('min_tokens suppresses the close and EOS: the model keeps thinking', () => {
    const { ids, gen } = generate(r1, 'r1', { stopTokenIds: [THINK_END_ID], minTokens: 40 });
    expect(ids).toHaveLength(41);
    expect(ids.slice(0, 40).every(isWord)).toBe(true);
    expect(ids[40]).toBe(THINK_END_ID);
    expect(gen.stopReason).toBe(THINK_END_ID);
    const answer = generate([...r1, ...tok.encode('x</think>\n\n')], 'r1', { minTokens: 20 });
    expect(answer.ids).toHaveLength(21);
    expect(answer.ids.slice(0, 20)).not.toContain(EOS_ID);
    expect(answer.ids[20]).toBe(EOS_ID);
  });

  it('max_tokens ends with "length", checked before EOS as vLLM does', () => {
    const five = generate(r1, 'r1', { maxTokens: 5 });
    expect(five.ids).toHaveLength(5);
    expect(five.gen.finishReason).toBe('length');
    expect(five.gen.stopReason).toBeNull();
    const exact = generate(r1, 'r1', { maxTokens: 45 });
    expect(exact.ids.at(-1)).toBe(EOS_ID);
    expect(exact.gen.finishReason).toBe('length');
    const ctx = generate(r1, 'r1', { maxModelLen: r1.length + 3 });
    expect(ctx.ids).toHaveLength(3);
    expect(ctx.gen.finishReason).toBe('length');
  });

  it('ignore_eos generates past EOS up to max_tokens', () => {
    const { ids, gen } = generate(r1, 'r1', { ignoreEos: true, maxTokens: 60 });
    expect(ids).toHaveLength(60);
    expect(ids[44]).toBe(EOS_ID);
    expect(gen.finishReason).toBe('length');
  });

  it('stop strings truncate the text, hold back streamed text, and set stop_reason', () => {
    const { gen, streamed, steps } = generate(r1, 'r1', { stop: ['step by'] });
    expect(gen.text).toBe('Let me consider the problem ');
    expect(gen.finishReason).toBe('stop');
    expect(gen.stopReason).toBe('step by');
    expect(streamed).toBe(gen.text);
    expect(steps.every((s) => !s.text.includes('step'))).toBe(true);
    const incl = generate(r1, 'r1', { stop: ['step by'], includeStopStrInOutput: true });
    expect(incl.gen.text).toBe('Let me consider the problem step by');
    expect(incl.streamed).toBe(incl.gen.text);
    // A stop string that starts in an earlier token: the text is cut back into that token.
    const span = generate(r1, 'r1', { stop: ['x', 'problem step'] });
    expect(span.gen.text).toBe('Let me consider the ');
    expect(span.streamed).toBe(span.gen.text);
    expect(span.gen.stopReason).toBe('problem step');
    // Checked only past min_tokens, and only where new characters can complete a match (vLLM).
    expect(generate(r1, 'r1', { stop: ['Let'] }).gen.stopReason).toBe('Let');
    expect(generate(r1, 'r1', { stop: ['Let'], minTokens: 1 }).gen.stopReason).toBeNull();
    expect(generate(r1, 'r1', { stop: ['step by'], minTokens: 10 }).gen.stopReason).toBeNull();
  });

  it('stays linear on long generations (the benchmark streams many tokens)', () => {
    const t0 = performance.now();
    const long = generate([1, 2, 3], 'r1', { ignoreEos: true, maxTokens: 50_000, maxModelLen: 100_000, stop: ['never here'] });
    expect(long.ids).toHaveLength(50_000);
    expect(long.streamed).toBe(long.gen.text);
    expect(performance.now() - t0).toBeLessThan(2000); // ~50 ms; a quadratic path takes seconds
  });

  it('skip_special_tokens drops ChatML tokens but keeps think tags in the text', () => {
    const { gen } = generate(chatPrompt('qwen3'), 'qwen3', { skipSpecialTokens: true, ignoreEos: true, maxTokens: 50 });
    expect(gen.text.startsWith('<think>\n')).toBe(true);
    expect(gen.text).toContain('</think>');
    expect(gen.text).not.toContain('<|im_end|>');
  });
});

describe('sim prefix cache', () => {
  const ids = Array.from({ length: 100 }, (_, i) => i % 50);

  it('reports the longest cached full-block prefix, never the last prompt token', () => {
    const cache = createPrefixCache({ blockSize: 16 });
    expect(cache.lookup(ids)).toBe(0);
    cache.insert(ids.slice(0, 40));
    expect(cache.lookup(ids)).toBe(32);
    cache.insert(ids);
    expect(cache.lookup(ids)).toBe(96);
    expect(cache.lookup(ids.slice(0, 96))).toBe(80); // last token recomputed: 95 -> 5 blocks
    const changed = [...ids];
    changed[20] = 999;
    expect(cache.lookup(changed)).toBe(16); // a block hit requires the whole prefix to match
  });

  it('evicts least recently used blocks beyond its capacity', () => {
    const cache = createPrefixCache({ blockSize: 16, capacityBlocks: 4 });
    const a = Array.from({ length: 48 }, (_, i) => i);
    const b = Array.from({ length: 48 }, (_, i) => 1000 + i);
    cache.insert(a);
    cache.insert(b);
    expect(cache.lookup([...b, 1])).toBe(48);
    expect(cache.lookup([...a, 1])).toBe(0); // a's first block was evicted, so nothing chains
    expect(cache.usage()).toBe(1);
  });
});
