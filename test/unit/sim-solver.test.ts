/**
 * The simulator's SIMULATED solver (src/sim/solver.ts): it recognises only the grammar of the
 * project's arithmetic word problems, thinks longer on harder ones, and is right more often the
 * more thinking is in its context when it answers. Everything else keeps the fixed script.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderChatTemplate, type TemplateKind } from '../../src/sim/chat-template.js';
import { createGeneration, type GenerationParams } from '../../src/sim/generation.js';
import { createScriptedModel } from '../../src/sim/model.js';
import { answerAfter, correctProbability, findProblem, findProblems, thinkingScript } from '../../src/sim/solver.js';
import { BYTE_BASE, THINK_END_ID, WORD_BASE, createSimTokenizer } from '../../src/sim/tokenizer.js';

const tok = createSimTokenizer();
const model = createScriptedModel(tok, { thinkTokens: 30, extendTokens: 10, answerTokens: 12, extensionWords: ['Wait'] });
const DATA = join(import.meta.dirname, '../../examples/arith/arith-word-problems.jsonl');
const items = readFileSync(DATA, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { id: string; question: string; answer: number });
const SUFFIX = '\n\nPut your final answer within \\boxed{}.';

const base: GenerationParams = {
  maxTokens: 4000, minTokens: 0, stopTokenIds: [], stop: [], ignoreEos: false,
  skipSpecialTokens: false, includeStopStrInOutput: false, maxModelLen: 8192, bannedIds: new Set<number>(),
};

function run(question: string, kind: TemplateKind = 'r1', extraAssistant = '', sampling = {}, bannedIds: ReadonlySet<number> = new Set()) {
  const prompt = tok.encode(renderChatTemplate([{ role: 'user', content: question }], { kind }) + extraAssistant);
  const gen = createGeneration(model.start(prompt, kind, { ...sampling, banned: bannedIds }), tok, prompt.length, { ...base, bannedIds });
  while (!gen.finished) gen.next();
  const ids = [...gen.outputIds];
  const close = ids.indexOf(THINK_END_ID);
  return { ids, text: gen.text, thinking: close, answer: tok.decode(ids.slice(close + 1), { skipSpecialTokens: true }) };
}

/** Accuracy over the dataset when the answer is written after min(M, T) thinking tokens. */
function accuracyAt(budget: (t: number) => number): number {
  let right = 0;
  for (const it of items) {
    const p = findProblem(it.question)!;
    if (answerAfter(p, budget(p.naturalTokens), null) === p.answer) right++;
  }
  return right / items.length;
}

describe('sim solver: the grammar', () => {
  it('parses every dataset problem and computes its answer (30-48 problems, 1-6 steps)', () => {
    expect(items.length).toBeGreaterThanOrEqual(30);
    expect(items.length).toBeLessThanOrEqual(48);
    const steps = new Set<number>();
    for (const it of items) {
      const p = findProblem(it.question + SUFFIX);
      expect(p, it.id).not.toBeNull();
      expect(p!.answer, it.id).toBe(it.answer);
      steps.add(p!.ops.length);
    }
    expect([...steps].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('does not recognise ordinary prompts, nor problems with a sentence outside the grammar', () => {
    for (const q of [
      'What is 6 x 7?',
      'Tom has 50 marbles and gives away 8. How many marbles does he keep?',
      'Ana has 5 apples. She juggles 3. How many apples does Ana have now?',
      'Ana has 5 apples. How many apples does Ana have now?', // no step
      'Ana has 5 apples. She eats 9. How many apples does Ana have now?', // negative
      'Ana has 5 apples. She buys 2 more. How many pears does Ana have now?',
    ]) expect(findProblem(q), q).toBeNull();
  });

  it('finds every problem of a few-shot prompt, in order', () => {
    const text = items.slice(0, 3).map((it) => `Question: ${it.question}\nAnswer: ${it.answer}`).join('\n\n');
    expect(findProblems(text).map((p) => p.answer)).toEqual(items.slice(0, 3).map((it) => it.answer));
  });
});

describe('sim solver: accuracy grows with thinking', () => {
  it('p(correct) is monotone in thinking tokens, from the floor to the cap', () => {
    const p = findProblem(items[20]!.question)!;
    let prev = -1;
    for (let r = 0; r <= 4 * p.naturalTokens; r += 7) {
      const q = correctProbability(p, r);
      expect(q).toBeGreaterThanOrEqual(prev);
      prev = q;
    }
    expect(correctProbability(p, 0)).toBeCloseTo(0.05);
    expect(correctProbability(p, p.naturalTokens)).toBeCloseTo(0.7);
    expect(prev).toBeLessThan(0.95);
  });

  it('over the dataset: a max-thinking sweep rises, and "Wait" re-checks fix errors', () => {
    const curve = [32, 64, 128, 256, 512].map((m) => accuracyAt((t) => Math.min(m, t)));
    for (let i = 1; i < curve.length; i++) expect(curve[i]!).toBeGreaterThanOrEqual(curve[i - 1]!);
    expect(curve[4]! - curve[0]!).toBeGreaterThan(0.4);
    const waits = [0, 1, 2, 4].map((k) => accuracyAt((t) => t + k * (1 + Math.max(12, Math.round(t / 4)))));
    for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThanOrEqual(waits[i - 1]!);
    expect(waits[3]! - waits[0]!).toBeGreaterThan(0.1);
  });

  it('natural thinking length grows with difficulty, 40..568 tokens', () => {
    const lengths = items.map((it) => run(it.question + SUFFIX).thinking);
    expect(Math.min(...lengths)).toBe(40);
    expect(Math.max(...lengths)).toBe(568);
    for (const it of items) expect(run(it.question).thinking).toBe(findProblem(it.question)!.naturalTokens);
  });
});

describe('sim solver: the scripted model', () => {
  it('thinks in steps with vocabulary words only (no "Wait"), then answers in \\boxed{}', () => {
    const it0 = items.find((x) => findProblem(x.question)!.ops.length === 3)!;
    const p = findProblem(it0.question)!;
    const sc = thinkingScript(p, tok.encode, null);
    expect(sc.natural).toHaveLength(p.naturalTokens);
    for (const id of [...sc.natural, ...sc.recheck, ...sc.loop]) expect(id < BYTE_BASE || id >= WORD_BASE).toBe(true);
    const text = tok.decode(sc.natural);
    expect(text).not.toMatch(/wait/i);
    expect(text).toMatch(/^Let me consider the problem step by step\.\nFirst, the value is \d+\.\nNow \d+/);
    const r = run(it0.question + SUFFIX);
    expect(r.answer).toMatch(/^\n\nThe answer is \\boxed\{\d+\}\.$/);
  });

  it('is deterministic; the seed matters only when sampling', () => {
    const q = items[30]!.question;
    expect(run(q)).toEqual(run(q));
    expect(run(q, 'r1', '', { temperature: 0, seed: 5 })).toEqual(run(q));
    const answers = new Set<string>();
    for (let seed = 0; seed < 12; seed++) answers.add(run(q, 'r1', '', { temperature: 0.7, seed }).answer);
    expect(answers.size).toBeGreaterThan(1);
  });

  it('a trace cut short (forced close) answers from the tokens present: less thinking, more mistakes', () => {
    let rightShort = 0;
    let rightFull = 0;
    for (const it of items) {
      const full = run(it.question);
      const thought = tok.decode(full.ids.slice(0, 16));
      const short = run(it.question, 'r1', `${thought}\n</think>\n\n`);
      expect(short.text).toMatch(/^The answer is \\boxed\{\d+\}\.$/);
      if (short.text.includes(`{${it.answer}}`)) rightShort++;
      if (full.answer.includes(`{${it.answer}}`)) rightFull++;
    }
    expect(rightFull - rightShort).toBeGreaterThan(items.length * 0.4);
  });

  it('keeps the fixed script for other prompts, byte for byte', () => {
    const r = run('What is 6 x 7?');
    expect(r.thinking).toBe(30);
    expect(r.text.startsWith('Let me consider the problem step by step.\nFirst, I need to find what the question asks.\n')).toBe(true);
    expect(r.answer).toBe('\n\nThe answer is 42. It follows from the steps above.');
    const tom = run('Tom has 50 marbles and gives away 8. How many marbles does he keep?');
    expect(tom.thinking).toBe(30);
    expect(tom.answer).toBe(r.answer);
  });
});

describe('sim solver: reflection suppression (NoWait)', () => {
  // What thinkgate's suppress_reflection sends for the default phrases: every one-token spelling.
  const banned = new Set(['Wait', ' Wait', 'Hmm', ' Hmm', 'Alternatively', ' Alternatively'].map((w) => tok.encode(w)).filter((x) => x.length === 1).map((x) => x[0]!));

  it('natural thinking ends with a self-check opened by "Hmm"; banning it skips the self-check', () => {
    const it0 = items.find((x) => findProblem(x.question)!.ops.length === 5)!;
    const p = findProblem(it0.question)!;
    const free = run(it0.question);
    expect(free.thinking).toBe(p.naturalTokens);
    expect(tok.decode(free.ids.slice(0, free.thinking))).toContain('Hmm, let me check the steps again.');
    const brief = run(it0.question, 'r1', '', {}, banned);
    expect(brief.thinking).toBe(p.briefTokens);
    expect(p.briefTokens).toBe(Math.round(p.naturalTokens * 0.7));
    const text = tok.decode(brief.ids.slice(0, brief.thinking));
    expect(text).not.toMatch(/hmm|wait|alternatively/i);
    // Every step is still worked: the brief trace is the natural one without its self-check.
    for (const line of tok.decode(thinkingScript(p, tok.encode, null).natural).split('\n').filter((l) => l.startsWith('Now '))) {
      expect(text).toContain(line);
    }
    expect(brief.answer).toMatch(/^\n\nThe answer is \\boxed\{\d+\}\.$/);
  });

  it('a ban of other words changes nothing; the answer follows p(c) of the shorter trace', () => {
    const q = items[20]!.question;
    expect(run(q, 'r1', '', {}, new Set([tok.encode('Alternatively')[0]!]))).toEqual(run(q));
    let right = 0;
    let tokens = 0;
    let naturalTokens = 0;
    for (const it of items) {
      const r = run(it.question, 'r1', '', {}, banned);
      tokens += r.thinking;
      naturalTokens += findProblem(it.question)!.naturalTokens;
      if (r.answer.includes(`{${it.answer}}`)) right++;
    }
    expect(right / items.length).toBeCloseTo(accuracyAt((t) => Math.round(t * 0.7)), 5);
    expect(right / items.length).toBeLessThan(accuracyAt((t) => t));
    expect(tokens / naturalTokens).toBeGreaterThan(0.65);
    expect(tokens / naturalTokens).toBeLessThan(0.75);
  });
});
