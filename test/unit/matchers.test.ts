/** The engine's two scanners, replayed with their input split at every offset. */
import { describe, expect, it } from 'vitest';
import { SeqMatcher } from '../../src/engine/seq-matcher.js';
import { StopMatcher } from '../../src/engine/stop-matcher.js';

/** Feeds ids; returns [released-as-ordinary ids..., 'D' at each delimiter]. */
function scan(needle: number[], ids: number[]): (number | 'D')[] {
  const m = new SeqMatcher(needle);
  const out: (number | 'D')[] = [];
  const held: number[] = [];
  for (const id of ids) {
    held.push(id);
    const r = m.push(id);
    if (r === -1) {
      held.length = 0;
      out.push('D');
    } else out.push(...held.splice(0, r));
  }
  out.push(...held.splice(0, m.flush()));
  return out;
}

describe('SeqMatcher', () => {
  it('finds single and multi-id delimiters and releases everything else in order', () => {
    expect(scan([4], [1, 4, 2, 4])).toEqual([1, 'D', 2, 'D']);
    expect(scan([7, 8, 9], [1, 7, 8, 2, 7, 8, 9, 3])).toEqual([1, 7, 8, 2, 'D', 3]);
    // Overlapping prefixes: KMP must not lose the second start.
    expect(scan([7, 7, 8], [7, 7, 7, 8, 5])).toEqual([7, 'D', 5]);
    expect(scan([1, 2, 1, 3], [1, 2, 1, 2, 1, 3])).toEqual([1, 2, 'D']);
    // A half-seen delimiter at the end is ordinary after all.
    expect(scan([7, 8], [5, 7])).toEqual([5, 7]);
  });

  it('gives the same result however a stream is cut into chunks (ids arrive one by one)', () => {
    const ids = [3, 7, 7, 8, 9, 7, 8, 7, 7, 7, 8, 9, 1];
    const whole = scan([7, 8, 9], ids);
    expect(whole).toEqual([3, 7, 'D', 7, 8, 7, 7, 'D', 1]);
    expect(whole.filter((x) => x !== 'D')).toHaveLength(ids.length - 6);
  });
});

describe('StopMatcher', () => {
  const feed = (stops: string[], pieces: string[]) => {
    const m = new StopMatcher(stops);
    let text = '';
    for (const p of pieces) {
      const r = m.push(p);
      text += r.text;
      if (r.stopped) return { text, stopped: true };
    }
    return { text: text + m.flush(), stopped: false };
  };

  const cases: [string[], string, { text: string; stopped: boolean }][] = [
    [['STOP'], 'The answer is 42.STOP and more', { text: 'The answer is 42.', stopped: true }],
    [['\n\n', 'END'], 'line one\nline two\n\nthree', { text: 'line one\nline two', stopped: true }],
    [['abc'], 'ababab ab', { text: 'ababab ab', stopped: false }],
    [['日本'], 'これは日本語', { text: 'これは', stopped: true }],
    [['xyz', 'yz!'], 'axyz!', { text: 'a', stopped: true }],
    [[], 'no stops at all', { text: 'no stops at all', stopped: false }],
    // Overlapping stops: the one that ends first wins, whatever the cut (the old scan picked the
    // earliest start within a chunk, so 'abcd'+'e' and 'abcde' gave different answers).
    [['abcde', 'cd'], 'xabcdey', { text: 'xab', stopped: true }],
    [['he', 'she', 'hers'], 'ushers', { text: 'u', stopped: true }],
    // Two stops end at the same character: the longer one (the earlier start) cuts.
    [['aab', 'ab'], 'aaab', { text: 'a', stopped: true }],
    [['a\u{1F600}b'], 'x a\u{1F600}b', { text: 'x ', stopped: true }],
  ];

  it.each(cases)('stops %j in %j the same at every split offset', (stops, input, want) => {
    expect(feed(stops, [input])).toEqual(want);
    for (let i = 0; i <= input.length; i++) {
      expect([i, feed(stops, [input.slice(0, i), input.slice(i)])]).toEqual([i, want]);
    }
    expect(feed(stops, [...input])).toEqual(want);
  });

  it('holds up to the request limit of stop strings (1,024, 32 KiB) and stays split-proof', () => {
    const stops = Array.from({ length: 1024 }, (_, i) => `s${i}`.padEnd(32, '.'));
    const input = 'answer: ' + 's1023'.padEnd(32, '.') + ' tail';
    const whole = feed(stops, [input]);
    expect(whole).toEqual({ text: 'answer: ', stopped: true });
    expect(feed(stops, [...input])).toEqual(whole);
  });

  it('never emits a possible stop prefix before it is decided', () => {
    const m = new StopMatcher(['</answer>']);
    expect(m.push('x </ans')).toEqual({ text: 'x ', stopped: false });
    expect(m.push('wer>')).toEqual({ text: '', stopped: true, matched: '</answer>' });
  });
});
