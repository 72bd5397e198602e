import { describe, expect, it } from 'vitest';
import {
  BYTE_BASE,
  EOS_ID,
  IM_START_ID,
  THINK_END_ID,
  THINK_START_ID,
  WORD_BASE,
  completeUtf8Prefix,
  createSimTokenizer,
} from '../../src/sim/tokenizer.js';

const tok = createSimTokenizer();

/** Small deterministic PRNG (mulberry32) so the property loop is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('sim tokenizer: fixed ids', () => {
  it('has the special ids of the contract', () => {
    expect(tok.encode('<|endoftext|>')).toEqual([0]);
    expect(tok.encode('<|im_start|>')).toEqual([IM_START_ID]);
    expect(IM_START_ID).toBe(1);
    expect(tok.encode('<|im_end|>')).toEqual([2]);
    expect(EOS_ID).toBe(2);
    expect(tok.encode('<think>')).toEqual([THINK_START_ID]);
    expect(THINK_START_ID).toBe(3);
    expect(tok.encode('</think>')).toEqual([THINK_END_ID]);
    expect(THINK_END_ID).toBe(4);
    expect(BYTE_BASE).toBe(8);
    expect(WORD_BASE).toBe(264);
  });

  it('keeps word ids stable across runs (append-only vocabulary)', () => {
    expect(tok.id('\n')).toBe(264);
    expect(tok.id('\n\n')).toBe(265);
    expect(tok.id('think')).toBe(266);
    expect(tok.id(' think')).toBe(267);
    expect(tok.id('answer')).toBe(268);
    expect(tok.id('Wait')).toBe(270);
    expect(tok.id(' Wait')).toBe(271);
    expect(createSimTokenizer().encode('Let me think. Wait')).toEqual(tok.encode('Let me think. Wait'));
  });

  it('makes s1 delimiters two tokens and think tags / Wait one token', () => {
    expect(tok.encode('<|im_start|>think')).toEqual([1, tok.id('think')]);
    expect(tok.encode('<|im_start|>answer')).toEqual([1, tok.id('answer')]);
    expect(tok.encode('Wait')).toHaveLength(1);
    expect(tok.encode(' Wait')).toHaveLength(1);
    expect(tok.encode('\n</think>\n\n')).toEqual([tok.id('\n'), 4, tok.id('\n\n')]);
    expect(tok.encode('<|im_start|>assistant\n<think>\n')).toEqual([1, tok.id('assistant'), 264, 3, 264]);
  });

  it('falls back to UTF-8 bytes for text outside the vocabulary', () => {
    expect(tok.encode('é')).toEqual([BYTE_BASE + 0xc3, BYTE_BASE + 0xa9]);
    expect(tok.encode('😀')).toHaveLength(4);
    expect(tok.tokenStr(BYTE_BASE + 0xc3)).toBe('<0xC3>');
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tok.decode([tok.vocabSize])).toThrow(/out of vocabulary/);
    expect(() => tok.decode([-1])).toThrow(/out of vocabulary/);
  });
});

describe('sim tokenizer: round trip', () => {
  const samples = [
    '',
    'Hello world',
    '  leading and trailing  ',
    'line one\r\nline two\r\n\r\n',
    '中文字符和日本語のテキスト',
    'emoji 😀👍🏽 family 👨‍👩‍👧',
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nWait</think>\n\n',
    '<|im_start|>think\nstep<|im_start|>answer\nFinal Answer: 42',
    '< <| <|im <think </think <|im_start| >',
    'tabs\tand\u0000nul and \u00a0nbsp',
    'Thinking thinking Therefore answered Waiting',
  ];

  it.each(samples)('decode(encode(%j)) is the same string', (s) => {
    expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('round-trips random strings (property loop, 400 cases)', () => {
    const rand = prng(42);
    const pieces = [
      'the', ' Wait', 'Wait', 'think', '<think>', '</think>', '<|im_start|>', '<|im_end|>', '<|endoftext|>',
      '\n', '\n\n', '\r\n', ' ', '<', '|', '中', '字', 'é', '😀', '👍🏽', '\u200d', '42', '.', 'ans', 'wer',
    ];
    for (let n = 0; n < 400; n++) {
      let s = '';
      const len = Math.floor(rand() * 24);
      for (let i = 0; i < len; i++) {
        if (rand() < 0.7) s += pieces[Math.floor(rand() * pieces.length)]!;
        else {
          // Any code point except lone surrogates (which UTF-8 cannot carry).
          let cp = Math.floor(rand() * 0x10ffff);
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
          s += String.fromCodePoint(cp);
        }
      }
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('drops only ChatML control tokens with skipSpecialTokens (think tags are not special in Qwen)', () => {
    const ids = tok.encode('<|im_start|>assistant\n<think>\nhi</think><|im_end|><|endoftext|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('assistant\n<think>\nhi</think>');
    expect(tok.decode(ids)).toBe('<|im_start|>assistant\n<think>\nhi</think><|im_end|><|endoftext|>');
  });
});

describe('sim tokenizer: incremental detokenizer', () => {
  const text = 'a中é😀b\r\n字👍🏽<think>Wait';
  const ids = tok.encode(text);

  it('emits text only at complete UTF-8, for every split of the byte tokens', () => {
    for (let cut = 0; cut <= ids.length; cut++) {
      const d = tok.createDetokenizer();
      let first = '';
      for (const id of ids.slice(0, cut)) first += d.push(id);
      let rest = '';
      for (const id of ids.slice(cut)) rest += d.push(id);
      rest += d.flush();
      expect(first + rest).toBe(text);
      expect(first).not.toContain('\ufffd');
      expect(text.startsWith(first)).toBe(true);
      // `first` is exactly the complete-character prefix of the pushed bytes.
      const pushed = ids.slice(0, cut).flatMap((id) =>
        id >= BYTE_BASE && id < WORD_BASE ? [id - BYTE_BASE] : Array.from(new TextEncoder().encode(tok.tokenStr(id))),
      );
      const expected = new TextDecoder().decode(Uint8Array.from(pushed.slice(0, completeUtf8Prefix(pushed))));
      expect(first).toBe(expected);
    }
  });

  it('lags by a token inside a multibyte character', () => {
    const d = tok.createDetokenizer();
    const zh = tok.encode('中'); // 3 byte tokens
    expect(zh).toHaveLength(3);
    expect(d.push(zh[0]!)).toBe('');
    expect(d.push(zh[1]!)).toBe('');
    expect(d.push(zh[2]!)).toBe('中');
  });

  it('never holds invalid bytes back', () => {
    const d = tok.createDetokenizer();
    expect(d.push(BYTE_BASE + 0xff)).toBe('\ufffd');
    expect(d.push(BYTE_BASE + 0xe4)).toBe('');
    expect(d.push(tok.id('the'))).toBe('\ufffdthe');
  });

  it('skips ChatML specials when asked, keeping think tags', () => {
    const d = tok.createDetokenizer({ skipSpecialTokens: true });
    expect(d.push(IM_START_ID)).toBe('');
    expect(d.push(THINK_START_ID)).toBe('<think>');
    expect(d.push(EOS_ID)).toBe('');
  });

  it('completeUtf8Prefix finds the last complete character at every byte offset', () => {
    const all = Array.from(new TextEncoder().encode('x中😀é'));
    const boundaries = new Set([0, 1, 4, 8, 10]);
    for (let n = 0; n <= all.length; n++) {
      const cut = completeUtf8Prefix(all.slice(0, n));
      const expected = Math.max(...[...boundaries].filter((b) => b <= n));
      expect(cut).toBe(expected);
    }
  });
});
