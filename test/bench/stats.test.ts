import { describe, expect, it } from 'vitest';
import { fitLine, quantile, summarize } from '../../bench/stats.js';

describe('bench stats', () => {
  it('interpolates quantiles between closest ranks (numpy linear)', () => {
    expect(quantile([1, 2], 0.5)).toBe(1.5);
    expect(quantile([10, 20, 30, 40, 50], 0.5)).toBe(30);
    expect(quantile([10, 20, 30, 40, 50], 0.99)).toBeCloseTo(49.6, 10);
    expect(quantile([7], 0.99)).toBe(7);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });

  it('summarizes unsorted samples', () => {
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toMatchObject({ n: 5, mean: 3, p50: 3, max: 5 });
    expect(s.p99).toBeCloseTo(4.96, 10);
  });

  it('fits a least-squares line with r2', () => {
    const f = fitLine([0, 1, 2, 3], [1, 3, 5, 7]);
    expect(f.slope).toBeCloseTo(2, 12);
    expect(f.intercept).toBeCloseTo(1, 12);
    expect(f.r2).toBeCloseTo(1, 12);
    const flat = fitLine([0, 1, 2, 3], [4, 4, 4, 4]);
    expect(flat.slope).toBe(0);
    const noisy = fitLine([0, 1, 2, 3], [0, 1, 0, 1]);
    expect(noisy.r2).toBeLessThan(0.5);
    expect(() => fitLine([1, 1], [1, 2])).toThrow(/equal/);
  });
});
