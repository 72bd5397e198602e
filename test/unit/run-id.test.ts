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

describe('runSampling', () => {
  it('gives sample j seed + j, and shares the request object when there is nothing to change', async () => {
    const { runSampling } = await import('../../src/runs/run-id.js');
    const seeded = { temperature: 1, seed: 7 };
    expect(runSampling(seeded, 0)).toBe(seeded);
    expect(runSampling(seeded, 2)).toEqual({ temperature: 1, seed: 9 });
    expect(seeded.seed).toBe(7);
    const plain = { temperature: 1 };
    expect(runSampling(plain, 3)).toBe(plain);
  });
});
