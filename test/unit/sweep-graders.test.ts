import { describe, expect, it } from 'vitest';
import type { SweepItem } from '../../src/sweep/dataset.js';
import { getGrader, grade, goldLetter, lastBoxed, normalizeMath, parseNumber } from '../../src/sweep/graders.js';

const item = (answer: string, extra: Partial<SweepItem> = {}): SweepItem => ({ id: '1', question: 'q', answer, ...extra });
const SIM = ' The answer is 42. It follows from the steps above. So the final answer is 42.';

describe('numeric grader', () => {
  const g = getGrader('numeric');
  it('takes the number after the last "answer is" cue', () => {
    expect(grade(g, SIM, item('42'))).toEqual({ answer: '42', correct: true });
    expect(grade(g, 'First 3, then 5. The answer is 7.', item('7')).correct).toBe(true);
    expect(grade(g, 'First 3, then 5. The answer is 7.', item('5')).correct).toBe(false);
  });
  it('accepts commas, decimals, fractions, dollars and a box', () => {
    expect(grade(g, 'The answer is 1,234.', item('1234')).correct).toBe(true);
    expect(grade(g, 'The answer is 42.0', item('42')).correct).toBe(true);
    expect(grade(g, 'so x = \\boxed{3/4} done 9', item('0.75')).correct).toBe(true);
    expect(grade(g, 'The answer is $18.', item('18')).correct).toBe(true);
    expect(grade(g, 'The answer is -2.5.', item('-2.5')).correct).toBe(true);
  });
  it('finds no answer in text without numbers', () => {
    expect(grade(g, 'I do not know.', item('1'))).toEqual({ answer: null, correct: false });
  });
  it('parses numbers strictly', () => {
    expect(parseNumber('1,000')).toBe(1000);
    expect(parseNumber('3/4')).toBe(0.75);
    expect(parseNumber('abc')).toBeNaN();
  });
});

describe('boxed grader', () => {
  const g = getGrader('boxed');
  it('extracts the last box with nested braces', () => {
    expect(lastBoxed('a \\boxed{1} then \\boxed{\\frac{1}{2}}.')).toBe('\\frac{1}{2}');
    expect(lastBoxed('no box')).toBeNull();
  });
  it('normalises LaTeX spellings', () => {
    expect(normalizeMath('\\dfrac12')).toBe('\\frac{1}{2}');
    expect(normalizeMath('x = 90^\\circ')).toBe('90');
    expect(normalizeMath('\\left( 1, 2 \\right)')).toBe('(1,2)');
    expect(normalizeMath('\\text{ 5 cm}')).toBe('5cm');
  });
  it('grades equivalent answers as correct', () => {
    expect(grade(g, 'Thus \\boxed{\\dfrac{1}{2}}', item('\\frac{1}{2}')).correct).toBe(true);
    expect(grade(g, 'Thus \\boxed{0.5}', item('\\frac12')).correct).toBe(true);
    expect(grade(g, 'Thus \\boxed{(1,2)}', item('\\left(1, 2\\right)')).correct).toBe(true);
    expect(grade(g, 'Thus \\boxed{x^2+1}', item('x^2 + 1')).correct).toBe(true);
    expect(grade(g, 'Thus \\boxed{x^2+2}', item('x^2 + 1')).correct).toBe(false);
  });
  it('falls back to the "answer is" sentence without a box', () => {
    expect(grade(g, SIM, item('42')).correct).toBe(true);
  });
});

describe('exact grader', () => {
  const g = getGrader('exact');
  it('compares the normalised final answer', () => {
    expect(grade(g, 'Thinking... The answer is "Paris".', item('paris')).correct).toBe(true);
    expect(grade(g, 'The answer is Paris, France.', item('Paris')).correct).toBe(false);
    expect(grade(g, 'blue', item('Blue')).correct).toBe(true);
  });
});

describe('choice grader', () => {
  const g = getGrader('choice');
  const mc = item('B', { choices: ['red', 'green', 'blue'] });
  it('reads the letter from the common answer shapes', () => {
    expect(grade(g, 'The answer is (B).', mc).correct).toBe(true);
    expect(grade(g, 'Answer: B', mc).correct).toBe(true);
    expect(grade(g, 'so \\boxed{B}', mc).correct).toBe(true);
    expect(grade(g, 'The answer is C.', mc).correct).toBe(false);
  });
  it('ignores letters beyond the choices', () => {
    expect(grade(g, 'The answer is (Z).', mc).answer).toBeNull();
  });
  it('accepts a gold answer given as the choice text', () => {
    expect(goldLetter(item('blue', { choices: ['red', 'green', 'blue'] }))).toBe('C');
  });
});

it('rejects an unknown grader by name', () => {
  expect(() => getGrader('fuzzy')).toThrow(/unknown grader "fuzzy"/);
});
