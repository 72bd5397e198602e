import { describe, expect, it } from 'vitest';
import { UpstreamAllowance, checkSamplingBytes, idsBytes } from '../../src/runs/upstream-allowance.js';
import { InvalidRequestError } from '../../src/errors.js';

describe('upstream allowance (issue 11 item 4)', () => {
  it('idsBytes is the length of the ids as JSON', () => {
    for (const ids of [[], [0], [1, 22, 333, 4444, 55555, 666666, 151_643]]) expect(idsBytes(ids)).toBe(JSON.stringify(ids).length);
  });

  it('counts sampling, prompt ids and stop strings of every segment, and fails past the limit with a stable code', () => {
    const a = new UpstreamAllowance(10_000);
    const sampling = { temperature: 0, extra: 'x'.repeat(1000) };
    const stop = ['y'.repeat(2000)];
    const thinking = a.segmentBytes({ sampling, promptIds: [1, 2, 3] });
    const answer = a.segmentBytes({ sampling, promptIds: [1, 2, 3], stop });
    expect(answer - thinking).toBe(JSON.stringify(stop).length);
    a.spend(answer);
    a.spend(answer);
    let err: unknown;
    try {
      a.spend(answer);
      a.spend(answer);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({ status: 400, code: 'upstream_bytes_exceeded' });
  });

  it('checkSamplingBytes names the largest field when runs x the sampling part cannot fit', () => {
    expect(() => checkSamplingBytes({ a: 1, blob: 'z'.repeat(100) }, 2, 1000)).not.toThrow();
    expect(() => checkSamplingBytes({ a: 1, blob: 'z'.repeat(100) }, 20, 1000)).toThrow(
      expect.objectContaining({ param: 'blob', code: 'upstream_bytes_exceeded' }),
    );
  });
});
