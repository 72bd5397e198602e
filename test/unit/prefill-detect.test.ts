/**
 * Where an assistant prefill ends (src/engine/prefill.ts): the last thinking delimiter of the
 * final turn decides, whatever follows it; earlier turns never count.
 */
import { describe, expect, it } from 'vitest';
import { detectPrefill } from '../../src/engine/prefill.js';
import { T, answerTok, s1, thinkTags, thought, threeIdEnd } from '../support/fake-model-backend.js';

const HEAD = [T.IM_START, 50, 51, T.EOS, T.IM_START, 52, T.NL];

describe('detectPrefill', () => {
  it('inside thinking: counts the ids after the opening, however many', () => {
    const thoughts = Array.from({ length: 40 }, (_, k) => thought(k));
    expect(detectPrefill([...HEAD, T.THINK, T.NL, ...thoughts], thinkTags)).toEqual({ phase: 'thinking', thinkingTokens: 41 });
  });

  it("Qwen3's empty block then a reopened one: inside thinking", () => {
    const p = [...HEAD, T.THINK, T.NLNL, T.END, T.NLNL, T.THINK, T.NL, thought(0)];
    expect(detectPrefill(p, thinkTags)).toEqual({ phase: 'thinking', thinkingTokens: 2 });
  });

  it('after thinking: the answer, with the closed thinking counted', () => {
    const p = [...HEAD, T.THINK, T.NL, thought(0), thought(1), T.END, T.NLNL, ...Array.from({ length: 30 }, (_, k) => answerTok(k))];
    expect(detectPrefill(p, thinkTags)).toEqual({ phase: 'answer', thinkingTokens: 3 });
  });

  it('an end delimiter without its opening in the turn: the answer, no thinking counted', () => {
    expect(detectPrefill([...HEAD, thought(0), T.END, answerTok(0)], thinkTags)).toEqual({ phase: 'answer', thinkingTokens: 0 });
  });

  it('no delimiter in the final turn: before thinking, even when an earlier turn has one', () => {
    const earlier = [T.IM_START, 52, T.NL, T.THINK, thought(0), T.END, answerTok(0), T.EOS];
    expect(detectPrefill([...earlier, ...HEAD, answerTok(1)], thinkTags)).toEqual({ phase: 'before_thinking', thinkingTokens: 0 });
    expect(detectPrefill([], thinkTags)).toEqual({ phase: 'before_thinking', thinkingTokens: 0 });
  });

  it('without an end-of-turn id, searches the whole prompt', () => {
    expect(detectPrefill([T.THINK, thought(0)], { ...thinkTags, eosIds: [] })).toEqual({ phase: 'thinking', thinkingTokens: 1 });
  });

  it('multi-id delimiters (s1, a three-id </think>)', () => {
    expect(detectPrefill([...HEAD, T.IM_START, T.THINKW, thought(0), T.IM_START, T.ANSWER, T.NL], s1)).toEqual({ phase: 'answer', thinkingTokens: 1 });
    expect(detectPrefill([...HEAD, T.IM_START, T.THINKW, thought(0)], s1)).toEqual({ phase: 'thinking', thinkingTokens: 1 });
    const p = [...HEAD, T.THINK, thought(0), T.LT_SLASH, T.THINK_WORD, T.GT, answerTok(0)];
    expect(detectPrefill(p, threeIdEnd)).toEqual({ phase: 'answer', thinkingTokens: 1 });
    // Half a delimiter is not one.
    expect(detectPrefill([...HEAD, T.THINK, thought(0), T.LT_SLASH, T.THINK_WORD], threeIdEnd)).toEqual({ phase: 'thinking', thinkingTokens: 3 });
  });

  it('a huge hostile prompt full of delimiters stays linear and decides by the last one', () => {
    const p: number[] = [];
    for (let i = 0; i < 100_000; i++) p.push(i % 2 === 0 ? T.THINK : T.END);
    const t0 = Date.now();
    expect(detectPrefill(p, thinkTags)).toEqual({ phase: 'answer', thinkingTokens: 0 });
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
