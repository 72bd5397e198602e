import { describe, expect, it } from 'vitest';
import { runRequestId } from '../../src/runs/run-id.js';
import { stopList } from '../../src/openai/common-fields.js';

describe('runRequestId', () => {
  it('adds the prompt only in a batch and the choice only when n > 1', () => {
    expect(runRequestId('r', { choice: 0, n: 1 })).toBe('r');
    expect(runRequestId('r', { choice: 2, n: 3 })).toBe('r-c2');
    expect(runRequestId('r', { choice: 0, n: 1, prompt: 1, prompts: 2 })).toBe('r-p1');
    expect(runRequestId('r', { choice: 1, n: 2, prompt: 0, prompts: 2 })).toBe('r-p0-c1');
  });
});

describe('stopList', () => {
  it('is always a list, a copy of the request array', () => {
    expect(stopList(undefined)).toEqual([]);
    expect(stopList('x')).toEqual(['x']);
    const given = ['a', 'b'];
    expect(stopList(given)).toEqual(['a', 'b']);
    expect(stopList(given)).not.toBe(given);
  });
});
