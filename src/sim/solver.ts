/**
 * SIMULATED "solver" model for the vLLM simulator: NOT a language model and NOT a real result.
 * It recognises the arithmetic word problems of examples/arith/arith-word-problems.jsonl (a
 * small sentence grammar, below), "thinks" in arithmetic steps whose natural length grows with
 * the problem's difficulty, and answers correctly with a probability that grows with the
 * thinking tokens actually present in its context when it writes the answer. It exists so that
 * `npm run demo:sweep` can draw a test-time scaling curve (s1, Muennighoff et al. 2025,
 * arXiv 2501.19393, Figures 1 and 4) on any machine, with no GPU. Everything is deterministic.
 *
 * Grammar (a problem is recognised only when every sentence parses, so ordinary prompts such as
 * "Tom has 50 marbles and gives away 8. How many ..." are NOT problems and keep the default
 * script byte for byte):
 *
 *   NAME has N NOUN.                       start value N
 *   (She|He|NAME) (buys|finds|gets|receives|wins|picks up) N more.      + N
 *   (She|He|NAME) (gives away|eats|loses|sells|uses|drops) N.          - N
 *   (She|He|NAME) buys N (boxes|bags|packs) of M.                        + N*M
 *   (She|He|NAME) (doubles|triples) (her|his) NOUN.                      * 2, * 3
 *   (She|He|NAME) gives away half.                                       / 2
 *   (She|He|NAME) splits (her|his) NOUN into N equal piles and keeps one pile.   / N
 *   How many NOUN does NAME have now?      the question (ends the problem)
 *
 * Accuracy model. Let T be the problem's natural thinking length (tokens) and r the thinking
 * tokens in the context when the answer starts; c = r / T. Each (problem, seed) draws a fixed
 * threshold u in [0, 1) from a hash; the answer is correct iff u < p(c), with p increasing:
 *   c <= 1: p = P_FLOOR + (P_NATURAL - P_FLOOR) * c^1.3     (cut short -> more mistakes)
 *   c >  1: p = P_NATURAL + (P_MAX - P_NATURAL) * (1 - exp(-(c - 1) / 0.35))   ("Wait" re-checks)
 * Because u is per item and p is monotone, more thinking never turns a right answer wrong for
 * the same item, and accuracy over the dataset rises with the budget.
 *
 * Reflection (issue 16, item 5; NoWait, Wang et al. 2025, arXiv 2506.08343). The last
 * REFLECTION_SHARE of the natural thinking is a self-check that the solver opens with its
 * reflection word "Hmm" ("Hmm, let me check the steps again."): the steps are all worked in the
 * first `briefTokens`. When a request bans that word (logit_bias -100 on its id, as thinkgate's
 * `suppress_reflection` sends on thinking segments), the solver skips the self-check: it thinks
 * `briefTokens` and closes. Its answer then follows the same p(c) as any other trace of that length
 * (c = briefTokens / T): the simulator prices suppression exactly like a budget cut of the same size,
 * so it shows the tokens saved, not whether a real model loses accuracy by it (that must be measured).
 */

export const P_FLOOR = 0.05;
export const P_NATURAL = 0.7;
export const P_MAX = 0.95;
/** Share of the natural thinking spent on the self-check (NoWait measured chains 27-51% shorter without it). */
export const REFLECTION_SHARE = 0.3;
/** The word that opens the solver's self-check; banning it skips the self-check. */
export const REFLECTION_OPENER = 'Hmm';

export type Op =
  | { kind: 'add'; n: number }
  | { kind: 'sub'; n: number }
  | { kind: 'mul'; n: number }
  | { kind: 'div'; n: number }
  | { kind: 'addmul'; a: number; b: number };

export interface Problem {
  /** The problem's text as found in the prompt (identity for the hash). */
  text: string;
  start: number;
  ops: Op[];
  answer: number;
  /** Natural thinking length in tokens: round(40 * 1.7^(ops - 1)), 40..568 for 1..6 ops. */
  naturalTokens: number;
  /** Natural thinking without the self-check (when its reflection word is banned): round(0.7 * naturalTokens). */
  briefTokens: number;
  /** Tokens the model thinks after each "Wait" before it closes again (a re-check). */
  recheckTokens: number;
  /** Character offset in the searched text just after the question mark. */
  end: number;
}

const NAME = '[A-Z][a-z]+';
const PROBLEM_RE = new RegExp(
  `(${NAME}) has (\\d+) ([a-z]+)\\.((?:\\s+[^.?]+\\.)*?)\\s+How many \\3 does \\1 have now\\?`,
  'g',
);

function parseOp(sentence: string, name: string): Op | null {
  const who = `(?:She|He|${name})`;
  const m = (re: string): RegExpMatchArray | null => sentence.match(new RegExp(`^${who} ${re}\\.$`));
  let g: RegExpMatchArray | null;
  if ((g = m('buys (\\d+) (?:boxes|bags|packs) of (\\d+)'))) return { kind: 'addmul', a: Number(g[1]), b: Number(g[2]) };
  if ((g = m('(?:buys|finds|gets|receives|wins|picks up) (\\d+) more'))) return { kind: 'add', n: Number(g[1]) };
  if ((g = m('(?:gives away|eats|loses|sells|uses|drops) (\\d+)'))) return { kind: 'sub', n: Number(g[1]) };
  if ((g = m('(doubles|triples) (?:her|his) [a-z]+'))) return { kind: 'mul', n: g[1] === 'doubles' ? 2 : 3 };
  if (m('gives away half')) return { kind: 'div', n: 2 };
  if ((g = m('splits (?:her|his) [a-z]+ into (\\d+) equal piles and keeps one pile'))) return { kind: 'div', n: Number(g[1]) };
  return null;
}

export function applyOp(v: number, op: Op): number {
  switch (op.kind) {
    case 'add':
      return v + op.n;
    case 'sub':
      return v - op.n;
    case 'mul':
      return v * op.n;
    case 'div':
      return v / op.n;
    case 'addmul':
      return v + op.a * op.b;
  }
}

/** Every problem of the grammar in `text`, in order (few-shot prompts hold several). */
export function findProblems(text: string): Problem[] {
  const out: Problem[] = [];
  if (!text.includes('How many')) return out; // fast path: almost every test prompt
  for (const m of text.matchAll(PROBLEM_RE)) {
    const name = m[1]!;
    const start = Number(m[2]);
    const body = m[4]!.trim();
    const sentences = body === '' ? [] : body.split(/(?<=\.)\s+/);
    const ops: Op[] = [];
    let ok = sentences.length > 0;
    let v = start;
    for (const s of sentences) {
      const op = parseOp(s, name);
      if (!op) {
        ok = false;
        break;
      }
      v = applyOp(v, op);
      if (!Number.isInteger(v) || v < 0) ok = false;
      ops.push(op);
    }
    if (!ok || ops.length > 12) continue;
    const naturalTokens = Math.round(40 * 1.7 ** (ops.length - 1));
    out.push({
      text: m[0],
      start,
      ops,
      answer: v,
      naturalTokens,
      briefTokens: Math.max(1, Math.round(naturalTokens * (1 - REFLECTION_SHARE))),
      recheckTokens: Math.max(12, Math.round(naturalTokens / 4)),
      end: (m.index ?? 0) + m[0].length,
    });
  }
  return out;
}

/** The last problem in `text`, if any (the one the model is asked about). */
export function findProblem(text: string): Problem | null {
  const all = findProblems(text);
  return all.length ? all[all.length - 1]! : null;
}

/** Probability of a correct answer after `r` thinking tokens (see the header). */
export function correctProbability(p: Problem, r: number): number {
  const c = Math.max(0, r) / p.naturalTokens;
  if (c <= 1) return P_FLOOR + (P_NATURAL - P_FLOOR) * c ** 1.3;
  return P_NATURAL + (P_MAX - P_NATURAL) * (1 - Math.exp(-(c - 1) / 0.35));
}

/** FNV-1a over a string, then a murmur3 finalizer: a stable 32-bit hash. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The number the model writes after `r` thinking tokens: the right one when its per-item draw
 * falls under p(r), else a near miss (off by 1..9, never the right one, never negative).
 * `seed` matters only when sampling (temperature > 0), as in the default script.
 */
export function answerAfter(p: Problem, r: number, seed: number | null): number {
  const key = `${p.text}|${seed ?? ''}`;
  const u = hash32(key) / 2 ** 32;
  if (u < correctProbability(p, r)) return p.answer;
  const delta = 1 + (hash32(`${key}|miss`) % 9);
  return p.answer - delta >= 0 && hash32(`${key}|sign`) % 2 === 0 ? p.answer - delta : p.answer + delta;
}

// ---- the thinking text (made of the simulator vocabulary's words, so one token per word) ----

const FILLERS = [
  'I need to find what the question asks.\n',
  'Let me check each part again.\n',
  'The numbers add up, so that seems right.\n',
  'Now let me verify the result.\n',
];

function opSentence(before: number, op: Op): string {
  const after = applyOp(before, op);
  switch (op.kind) {
    case 'add':
      return `Now ${before} + ${op.n} = ${after}.\n`;
    case 'sub':
      return `Now ${before} - ${op.n} = ${after}.\n`;
    case 'mul':
      return `Now ${before} * ${op.n} = ${after}.\n`;
    case 'div':
      return `Now ${before} / ${op.n} = ${after}.\n`;
    case 'addmul':
      return `Now ${op.a} * ${op.b} = ${op.a * op.b}, and ${before} + ${op.a * op.b} = ${after}.\n`;
  }
}

function workSentences(p: Problem): string[] {
  const out: string[] = [];
  let v = p.start;
  for (const op of p.ops) {
    out.push(opSentence(v, op));
    v = applyOp(v, op);
  }
  return out;
}

/** The solver's thinking ids (see thinkingScript). */
export interface ThinkingScript {
  /** Exactly `naturalTokens` ids: what the model thinks before it closes on its own. */
  natural: number[];
  /** What it thinks after a "Wait": a re-check of every step... */
  recheck: number[];
  /** ...then this, cycled, for as long as it is kept thinking. */
  loop: number[];
}

/**
 * Thinking ids: `naturalTokens` ids of natural thinking (the steps spread over the first
 * `briefTokens` between filler sentences, so a trace cut short holds only the first steps; then
 * the self-check, opened by "Hmm"; ending with "So the value is X." where X is what the model
 * answers after thinking that long); after an extension phrase, a re-check of the steps.
 * `reflect: false` (its reflection word is banned): `briefTokens` ids, the steps and no self-check.
 */
export function thinkingScript(p: Problem, encode: (s: string) => number[], seed: number | null, reflect = true): ThinkingScript {
  const T = reflect ? p.naturalTokens : p.briefTokens;
  const work = workSentences(p).map(encode);
  const fill = FILLERS.map(encode);
  const ids: number[] = encode(`Let me consider the problem step by step.\nFirst, the value is ${p.start}.\n`);
  const final = encode(`So the value is ${answerAfter(p, T, seed)}.\n`);
  const bodyEnd = Math.max(ids.length, T - final.length);
  // The steps end where the brief trace would write its final line.
  const stepsEnd = Math.min(bodyEnd, Math.max(ids.length, p.briefTokens - final.length));
  const workLen = work.reduce((a, w) => a + w.length, 0);
  const gap = Math.max(0, stepsEnd - ids.length - workLen) / work.length;
  const base = ids.length;
  let f = 0;
  let done = 0;
  const fits = (n: number, end: number): boolean => ids.length + n <= end;
  work.forEach((w, k) => {
    // Step k starts at about k/steps of the span: the first one right after the introduction.
    while (ids.length < base + done + gap * k && fits(fill[f % fill.length]!.length, stepsEnd - w.length)) {
      ids.push(...fill[f++ % fill.length]!);
    }
    ids.push(...w);
    done += w.length;
  });
  if (reflect) {
    // The self-check: opened by the reflection word, then the steps again, as far as they fit.
    const opener = encode(`${REFLECTION_OPENER}, let me check the steps again.\n`);
    while (fits(fill[f % fill.length]!.length, stepsEnd)) ids.push(...fill[f++ % fill.length]!);
    if (fits(opener.length, bodyEnd)) {
      ids.push(...opener);
      for (const w of work) if (fits(w.length, bodyEnd)) ids.push(...w);
    }
  }
  while (fits(fill[f % fill.length]!.length, bodyEnd)) ids.push(...fill[f++ % fill.length]!);
  const pad = encode(reflect ? `${REFLECTION_OPENER}.\n` : 'So.\n');
  while (fits(pad.length, bodyEnd)) ids.push(...pad);
  while (ids.length < bodyEnd) ids.push(encode('\n')[0]!);
  const natural = ids.concat(final).slice(0, T);
  const recheck = [...encode(', let me check the steps again.\n'), ...work.flat()];
  const loop = [...fill[1]!, ...work.flat()];
  return { natural, recheck, loop };
}

/** The thinking id at span position `pos`; `extEnd` is where the last extension phrase ended (-1: none). */
export function scriptWord(sc: ThinkingScript, pos: number, extEnd: number): number {
  if (extEnd >= 0 && pos >= extEnd) {
    const q = pos - extEnd;
    return q < sc.recheck.length ? sc.recheck[q]! : sc.loop[(q - sc.recheck.length) % sc.loop.length]!;
  }
  if (pos < sc.natural.length) return sc.natural[pos]!;
  return sc.loop[(pos - sc.natural.length) % sc.loop.length]!;
}
