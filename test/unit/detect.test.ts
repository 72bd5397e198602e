import { describe, expect, it } from 'vitest';
import { detectThinkingState, indexOfSeq, lastIndexOfSeq } from '../../src/profiles/detect.js';

// Qwen2/2.5/3 vocabulary ids (Qwen3 has <think>/</think> as added tokens).
const IM_START = 151644;
const IM_END = 151645;
const ASSISTANT = 77091;
const USER = 872;
const NL = 198; // "\n"
const NL2 = 271; // "\n\n"
const THINK = 151667; // Qwen3 <think>
const END_THINK = 151668; // Qwen3 </think>
const HELLO = [9707, 11, 1879]; // some user text

const qwen3 = { startIds: [THINK], endIds: [END_THINK] };
// s1 (Qwen2.5 tokenizer): <|im_start|>think = [151644, 26865], <|im_start|>answer = [151644, 9217].
const s1 = { startIds: [IM_START, 26865], endIds: [IM_START, 9217] };
// Qwen2.5 tokenizer, where the tags are plain text: "<think>" = "<th","ink",">", "</think>" = "</","think",">".
const qwen25Text = { startIds: [13708, 766, 29], endIds: [522, 26865, 29] };

const userTurn = [IM_START, USER, NL, ...HELLO, IM_END, NL];
const assistantHeader = [IM_START, ASSISTANT, NL];

describe('indexOfSeq / lastIndexOfSeq', () => {
  const hay = [1, 2, 3, 1, 2, 3, 4];
  it('finds the first and last occurrence of a multi-id needle', () => {
    expect(indexOfSeq(hay, [1, 2])).toBe(0);
    expect(lastIndexOfSeq(hay, [1, 2])).toBe(3);
    expect(indexOfSeq(hay, [3, 4])).toBe(5);
    expect(lastIndexOfSeq(hay, [3, 4])).toBe(5);
  });
  it('honours from as a bound on the match start', () => {
    expect(indexOfSeq(hay, [1, 2], 1)).toBe(3);
    expect(indexOfSeq(hay, [1, 2], 4)).toBe(-1);
    expect(lastIndexOfSeq(hay, [1, 2], 2)).toBe(0);
    expect(lastIndexOfSeq(hay, [1, 2], 3)).toBe(3);
    expect(indexOfSeq(hay, [1], -5)).toBe(0);
  });
  it('returns -1 for an absent, too long or empty needle', () => {
    expect(indexOfSeq(hay, [2, 1])).toBe(-1);
    expect(lastIndexOfSeq(hay, [2, 1])).toBe(-1);
    expect(indexOfSeq([1], [1, 2])).toBe(-1);
    expect(lastIndexOfSeq([1], [1, 2])).toBe(-1);
    expect(indexOfSeq(hay, [])).toBe(-1);
    expect(lastIndexOfSeq(hay, [])).toBe(-1);
    expect(indexOfSeq([], [1])).toBe(-1);
  });
  it('does not match a needle cut off at the end of the haystack', () => {
    expect(indexOfSeq([5, 1], [1, 2])).toBe(-1);
    expect(lastIndexOfSeq([5, 1], [1, 2])).toBe(-1);
  });
});

describe('detectThinkingState', () => {
  it("R1-distill / QwQ templates: a generation prompt ending '<think>\\n' is open", () => {
    expect(detectThinkingState([...userTurn, ...assistantHeader, THINK, NL], qwen3)).toBe('open');
    // R1-distill style: its own ids for <think>/</think> (illustrative), no newline token merge.
    const r1 = { startIds: [151648], endIds: [151649] };
    expect(detectThinkingState([151646, ...HELLO, 151645, 151648, NL], r1)).toBe('open');
  });

  it('open with two whitespace ids, or none, after the start', () => {
    expect(detectThinkingState([...assistantHeader, THINK, NL, NL], qwen3)).toBe('open');
    expect(detectThinkingState([...assistantHeader, THINK], qwen3)).toBe('open');
  });

  it("Qwen3 with enable_thinking: false ('<think>\\n\\n</think>\\n\\n') is closed", () => {
    expect(detectThinkingState([...userTurn, ...assistantHeader, THINK, NL2, END_THINK, NL2], qwen3)).toBe('closed');
  });

  it('Qwen3 default and s1 templates (no delimiter after the header) are absent', () => {
    expect(detectThinkingState([...userTurn, ...assistantHeader], qwen3)).toBe('absent');
    expect(detectThinkingState([...userTurn, ...assistantHeader], s1)).toBe('absent');
  });

  it("s1: a prompt ending with the two-id '<|im_start|>think' is open, with '<|im_start|>answer\\n' closed", () => {
    expect(detectThinkingState([...userTurn, ...assistantHeader, IM_START, 26865], s1)).toBe('open');
    expect(detectThinkingState([...userTurn, ...assistantHeader, IM_START, 26865, NL], s1)).toBe('open');
    expect(
      detectThinkingState([...assistantHeader, IM_START, 26865, 1, 2, IM_START, 9217, NL], s1),
    ).toBe('closed');
  });

  it('multi-id text delimiters (Qwen2.5 tokenizer) are matched as sequences', () => {
    const open = [...userTurn, ...assistantHeader, ...qwen25Text.startIds, NL];
    expect(detectThinkingState(open, qwen25Text)).toBe('open');
    const closed = [...open, NL, ...qwen25Text.endIds, NL2];
    expect(detectThinkingState(closed, qwen25Text)).toBe('closed');
    // Only a part of the start delimiter at the end: not a delimiter.
    expect(detectThinkingState([...assistantHeader, 766, 29, NL], qwen25Text)).toBe('absent');
  });

  it('thinking kept from an earlier turn does not count', () => {
    const history = [...userTurn, ...assistantHeader, THINK, 1, 2, END_THINK, NL2, 3, IM_END, NL];
    expect(detectThinkingState([...history, ...userTurn, ...assistantHeader], qwen3)).toBe('absent');
    expect(detectThinkingState([...history, ...userTurn, ...assistantHeader, THINK, NL], qwen3)).toBe('open');
  });

  it("a user message that ends with a literal '<think>' is not an opened thinking block", () => {
    const prompt = [IM_START, USER, NL, ...HELLO, THINK, IM_END, NL, ...assistantHeader];
    expect(detectThinkingState(prompt, qwen3)).toBe('absent');
  });

  it('more than maxTrailing ids after the last delimiter is absent; the bound is a parameter', () => {
    const prompt = [...assistantHeader, THINK, NL, 5, 6, 7];
    expect(detectThinkingState(prompt, qwen3)).toBe('absent');
    expect(detectThinkingState(prompt, qwen3, 4)).toBe('open');
    expect(detectThinkingState([...assistantHeader, THINK, 1, 2, 3], qwen3)).toBe('open');
  });

  it('the later delimiter wins: a start after an end is open again', () => {
    expect(detectThinkingState([THINK, END_THINK, THINK, NL], qwen3)).toBe('open');
    expect(detectThinkingState([END_THINK, NL], qwen3)).toBe('closed');
  });

  it('when one delimiter ends the other, the longer (containing) one wins', () => {
    // start "think" = [26865], end "/think" = [14, 26865]: the end's tail equals the start.
    const nested = { startIds: [26865], endIds: [14, 26865] };
    expect(detectThinkingState([1, 14, 26865, NL], nested)).toBe('closed');
    expect(detectThinkingState([1, 26865, NL], nested)).toBe('open');
  });

  it('an empty prompt or delimiters that tokenized to nothing are absent', () => {
    expect(detectThinkingState([], qwen3)).toBe('absent');
    expect(detectThinkingState([THINK, NL], { startIds: [], endIds: [] })).toBe('absent');
  });
});
