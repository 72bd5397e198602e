/**
 * Graders by name (issue 7): exact, numeric, `\boxed{}` math extraction with normalisation, and
 * multiple-choice letter. Each grader splits into `extract` (response -> canonical answer string,
 * or null when none is found) and `match` (canonical answer vs the item's gold), so that majority
 * voting (vote.ts) counts canonical answers rather than raw texts.
 */
import type { SweepItem } from './dataset.js';

export interface Grader {
  name: GraderName;
  /** Canonical answer found in the response, or null. */
  extract(response: string, item: SweepItem): string | null;
  /** Whether a canonical answer is the gold one. */
  match(answer: string, item: SweepItem): boolean;
}

export const GRADER_NAMES = ['exact', 'numeric', 'boxed', 'choice'] as const;
export type GraderName = (typeof GRADER_NAMES)[number];

export function getGrader(name: string): Grader {
  switch (name) {
    case 'exact':
      return exactGrader;
    case 'numeric':
      return numericGrader;
    case 'boxed':
    case 'math':
      return boxedGrader;
    case 'choice':
    case 'mc':
      return choiceGrader;
    default:
      throw new Error(`unknown grader "${name}" (expected one of ${GRADER_NAMES.join(', ')})`);
  }
}

/** Grades one response: the canonical answer and whether it is correct. */
export function grade(g: Grader, response: string, item: SweepItem): { answer: string | null; correct: boolean } {
  const answer = g.extract(response, item);
  return { answer, correct: answer !== null && g.match(answer, item) };
}

// ---- exact ----

/** Lower-case, collapse whitespace, drop surrounding quotes/brackets and a trailing period. */
export function normalizeText(s: string): string {
  return s
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^["'`*([{\s]+|["'`*)\]}\s.,;:!]+$/g, '');
}

/** The text after the last "answer is" / "answer:" cue up to its sentence end, else the last line. */
export function finalAnswerText(response: string): string {
  const cue = /(?:final answer|answer)\s*(?:is|:)\s*/gi;
  let last: RegExpExecArray | null = null;
  for (let m = cue.exec(response); m !== null; m = cue.exec(response)) last = m;
  if (last !== null) {
    const rest = response.slice(last.index + last[0].length);
    // Sentence end: a period followed by whitespace/end (not a decimal point), or a newline.
    const end = rest.search(/\.(\s|$)|\n/);
    return end === -1 ? rest : rest.slice(0, end);
  }
  const lines = response.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

const exactGrader: Grader = {
  name: 'exact',
  extract(response) {
    const t = normalizeText(finalAnswerText(response));
    return t === '' ? null : t;
  },
  match(answer, item) {
    return answer === normalizeText(item.answer);
  },
};

// ---- numeric ----

const NUMBER_RE = /-?\d[\d,]*(?:\.\d+)?(?:\/\d+)?|-?\.\d+/g;

/** Parses "1,234", "-0.5", "3/4" (and a leading "$"); NaN when it is not a number. */
export function parseNumber(s: string): number {
  const t = s.trim().replace(/^\$/, '').replace(/,(?=\d{3}\b)/g, '').replace(/%$/, '');
  const frac = /^(-?\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(t);
  if (frac) return Number(frac[1]) / Number(frac[2]);
  if (!/^-?(?:\d+(?:\.\d*)?|\.\d+)(?:e-?\d+)?$/i.test(t)) return NaN;
  return Number(t);
}

/** Canonical text of a number: no trailing zeros, so votes for "42" and "42.0" agree. */
function canonicalNumber(n: number): string {
  return String(Number(n.toPrecision(12)));
}

export function numbersClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** The last number in the final-answer text (falling back to the whole response). */
function lastNumber(text: string): number | null {
  const all = text.match(NUMBER_RE);
  if (!all) return null;
  for (let i = all.length - 1; i >= 0; i--) {
    const n = parseNumber(all[i]!);
    if (Number.isFinite(n)) return n;
  }
  return null;
}

const numericGrader: Grader = {
  name: 'numeric',
  extract(response) {
    const boxed = lastBoxed(response);
    const n = (boxed !== null ? lastNumber(boxed) : null) ?? lastNumber(finalAnswerText(response)) ?? lastNumber(response);
    return n === null ? null : canonicalNumber(n);
  },
  match(answer, item) {
    const gold = parseNumber(item.answer);
    return Number.isFinite(gold) && numbersClose(Number(answer), gold);
  },
};

// ---- \boxed{} math ----

/** Contents of the last `\boxed{...}` / `\fbox{...}` with balanced braces, or null. */
export function lastBoxed(s: string): string | null {
  const i = Math.max(s.lastIndexOf('\\boxed'), s.lastIndexOf('\\fbox'));
  if (i === -1) return null;
  const open = s.indexOf('{', i);
  if (open === -1) {
    // "\boxed 5" form (seen in MATH solutions): up to the next space or "$".
    const m = /^\\boxed\s+([^\s$]+)/.exec(s.slice(i));
    return m ? m[1]! : null;
  }
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    if (s[j] === '{') depth++;
    else if (s[j] === '}' && --depth === 0) return s.slice(open + 1, j);
  }
  return null;
}

/**
 * Normalises a LaTeX answer so that equivalent spellings compare equal. A subset of the
 * Hendrycks MATH `is_equiv` string normalisation (hendrycks/math, modeling/math_equivalence.py):
 * spaces, `\left`/`\right`, `\!`, `\dfrac`/`\tfrac`, `^\circ`, `\$`, `\%`, `\text{}` units,
 * `\frac12` -> `\frac{1}{2}`, a leading "x =" and "0.5" -> ".5" style leading zeros.
 */
export function normalizeMath(s: string): string {
  let t = s.trim();
  t = t.replace(/\\text\{\s*([^}]*)\}/g, '$1').replace(/\\mbox\{\s*([^}]*)\}/g, '$1');
  t = t.replace(/\\left|\\right|\\!|\\,|\\;|\\ /g, '');
  t = t.replace(/\\[dt]frac/g, '\\frac');
  t = t.replace(/\^\{?\\circ\}?|\\circ|°/g, '');
  t = t.replace(/\\\$|\$/g, '').replace(/\\%|%/g, '');
  t = t.replace(/\\frac(\d)(\d)/g, '\\frac{$1}{$2}').replace(/\\frac\{([^}]*)\}(\d)/g, '\\frac{$1}{$2}');
  t = t.replace(/^[a-z]\s*=\s*/i, '');
  t = t.replace(/\s+/g, '');
  t = t.replace(/\.$/, '');
  t = t.replace(/(^|[^\d])0\.(\d)/g, '$1.$2');
  return t;
}

/** Numeric value of a normalised math answer ("1,000", "\frac{3}{4}", "-2.5"), or NaN. */
function mathValue(t: string): number {
  const frac = /^(-?)\\frac\{(-?\d+(?:\.\d+)?)\}\{(\d+(?:\.\d+)?)\}$/.exec(t);
  if (frac) return (frac[1] === '-' ? -1 : 1) * (Number(frac[2]) / Number(frac[3]));
  return parseNumber(t.replace(/^(-?)\./, '$10.'));
}

const boxedGrader: Grader = {
  name: 'boxed',
  extract(response) {
    const b = lastBoxed(response);
    // No box: fall back to the "answer is" sentence, as s1's evaluation does for unboxed output.
    const raw = b ?? finalAnswerText(response);
    const t = normalizeMath(raw);
    if (t === '') return null;
    const v = mathValue(t);
    return Number.isFinite(v) ? canonicalNumber(v) : t;
  },
  match(answer, item) {
    const gold = normalizeMath(lastBoxed(item.answer) ?? item.answer);
    const gv = mathValue(gold);
    const av = Number(answer);
    if (Number.isFinite(gv) && answer.trim() !== '' && Number.isFinite(av)) return numbersClose(av, gv);
    return answer === gold;
  },
};

// ---- multiple-choice letter ----

const LETTER_PATTERNS = [
  /\\boxed\{\s*\(?([A-Z])\)?\s*\}/g,
  /answer\s*(?:is|:)\s*(?:option\s*)?\(?([A-Z])\)?(?![A-Za-z])/gi,
  /\(([A-Z])\)/g,
  /(?:^|\s)([A-Z])(?:[.):]|\s*$)/gm,
];

/** The gold letter: a letter, or the text of one of the choices. */
export function goldLetter(item: SweepItem): string | null {
  const a = item.answer.trim();
  const m = /^\(?([A-Za-z])\)?\.?$/.exec(a);
  if (m) return m[1]!.toUpperCase();
  const idx = item.choices?.findIndex((c) => normalizeText(c) === normalizeText(a)) ?? -1;
  return idx >= 0 ? String.fromCharCode(65 + idx) : null;
}

const choiceGrader: Grader = {
  name: 'choice',
  extract(response, item) {
    const max = item.choices ? 65 + item.choices.length - 1 : 90;
    // Patterns in order of trust; the last hit of the first pattern that hits wins.
    for (const re of LETTER_PATTERNS) {
      let found: string | null = null;
      for (const m of response.matchAll(re)) {
        const l = m[1]!.toUpperCase();
        if (l.charCodeAt(0) <= max) found = l;
      }
      if (found !== null) return found;
    }
    return null;
  },
  match(answer, item) {
    return answer === goldLetter(item);
  },
};
