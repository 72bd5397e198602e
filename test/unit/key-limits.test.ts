import { describe, expect, it } from 'vitest';
import { KeyLimits } from '../../src/http/key-limits.js';
import { RateLimitError } from '../../src/errors.js';

describe('KeyLimits by weight (issue 11 item 2)', () => {
  it('a request of weight w counts w against its key', () => {
    const k = new KeyLimits(4);
    const a = k.acquire('Bearer k1', 3);
    expect(() => k.acquire('Bearer k1', 2)).toThrow(RateLimitError);
    const b = k.acquire('Bearer k1', 1);
    expect(() => k.acquire('Bearer k1')).toThrow(RateLimitError);
    k.acquire('Bearer k2', 4)(); // other keys are not affected
    a();
    b();
    k.acquire('Bearer k1', 4)();
  });

  it('a weight above the limit is clamped: admitted when the key has nothing else running', () => {
    const k = new KeyLimits(2);
    const r = k.acquire('Bearer k', 128);
    expect(() => k.acquire('Bearer k')).toThrow(RateLimitError);
    r();
    const one = k.acquire('Bearer k');
    expect(() => k.acquire('Bearer k', 128)).toThrow(RateLimitError);
    one();
  });
});
