import { describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/sweep/dataset.js';
import { buildGrid, emptyGridSpec, parseEffortList, parseIntList, settingKey, sweptDimensions } from '../../src/sweep/grid.js';
import { majority } from '../../src/sweep/vote.js';
import { parseSweepArgs } from '../../src/sweep/args.js';

describe('dataset', () => {
  it('reads items and reports each bad line with its number, keeping the rest', () => {
    const text = [
      '{"id": "x", "question": "q1", "answer": 3}',
      '',
      'not json',
      '{"question": "q2"}',
      '{"question": "q3", "answer": "A", "choices": ["a", "b"]}',
      '{"id": "x", "question": "q4", "answer": "1"}',
      '{"question": "q5", "answer": "1", "choices": "ab"}',
    ].join('\n');
    const ds = parseDataset(text);
    expect(ds.items.map((i) => [i.id, i.answer])).toEqual([['x', '3'], ['5', 'A']]);
    expect(ds.items[1]!.choices).toEqual(['a', 'b']);
    expect(ds.errors.map((e) => e.line)).toEqual([3, 4, 6, 7]);
    expect(ds.errors[0]!.message).toMatch(/not valid JSON/);
    expect(ds.errors[1]!.message).toMatch(/"answer"/);
    expect(ds.errors[2]!.message).toMatch(/duplicate id/);
    expect(ds.errors[3]!.message).toMatch(/"choices"/);
  });
});

describe('grid', () => {
  it('is the cartesian product, minus min > max', () => {
    const grid = buildGrid({ ...emptyGridSpec(), maxThinking: [16, 64], minThinking: [32], extensions: [0, 1], effort: [] });
    expect(grid.map(settingKey)).toEqual(['max=64 min=32 ext=0 effort=-', 'max=64 min=32 ext=1 effort=-']);
  });
  it('has one unset setting when nothing is swept', () => {
    expect(buildGrid({ ...emptyGridSpec(), maxThinking: [], minThinking: [], extensions: [], effort: [] })).toEqual([{}]);
    expect(sweptDimensions({ ...emptyGridSpec(), maxThinking: [1, 2], minThinking: [], extensions: [3], effort: ['low', 'high'] })).toEqual(['maxThinking', 'effort']);
  });
  it('parses lists strictly', () => {
    expect(parseIntList('x', '512, 1024')).toEqual([512, 1024]);
    expect(() => parseIntList('x', '1,-2')).toThrow(/not a non-negative integer/);
    expect(() => parseIntList('x', '1,1')).toThrow(/duplicate/);
    expect(parseEffortList('low,high')).toEqual(['low', 'high']);
    expect(() => parseEffortList('ultra')).toThrow(/not one of/);
  });
});

describe('majority vote', () => {
  it('picks the most frequent answer, the first on ties, ignoring nulls', () => {
    expect(majority(['1', '2', '2', null, null, null])).toEqual({ answer: '2', votes: 2 });
    expect(majority(['3', '1', '1', '3'])).toEqual({ answer: '3', votes: 2 });
    expect(majority([null])).toEqual({ answer: null, votes: 0 });
  });
});

describe('args', () => {
  const base = ['--endpoint', 'http://x', '--model', 'm', '--data', 'd.jsonl', '--out', 'o'];
  it('parses the grid and defaults', () => {
    const a = parseSweepArgs([...base, '--max-thinking', '512,1024', '--samples', '3'], {});
    expect(a.grid.maxThinking).toEqual([512, 1024]);
    expect(a.samples).toBe(3);
    expect(a.temperature).toBe(0.7);
    expect(a.grader).toBe('numeric');
    expect(a.apiKey).toBeUndefined();
  });
  it('rejects missing and bad flags', () => {
    expect(() => parseSweepArgs(base.slice(2), {})).toThrow(/--endpoint is required/);
    expect(() => parseSweepArgs([...base, '--samples', '0'], {})).toThrow(/--samples/);
    expect(() => parseSweepArgs([...base, '--grader', 'nope'], {})).toThrow(/--grader/);
    expect(() => parseSweepArgs([...base, '--bogus'], {})).toThrow();
  });
  it('takes the key from OPENAI_API_KEY', () => {
    expect(parseSweepArgs(base, { OPENAI_API_KEY: 'k' }).apiKey).toBe('k');
  });
});
