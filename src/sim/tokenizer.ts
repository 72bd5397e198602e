/**
 * SIMULATOR tokenizer (not a real model's vocabulary): a small, fixed, reversible tokenizer
 * for the vLLM simulator. Deterministic across runs: the ids below are part of the test
 * contract of the whole suite.
 *
 * Layout (shaped like Qwen2.5/Qwen3's tokenizer, which vLLM serves for R1 distills, QwQ, s1):
 * - 0..7: special / added tokens (`<|endoftext|>`=0, `<|im_start|>`=1, `<|im_end|>`=2,
 *   `<think>`=3, `</think>`=4, `<tool_call>`=5, `</tool_call>`=6, `<|reserved_7|>`=7);
 * - 8..263: the 256 byte tokens (byte fallback, so every string is encodable);
 * - 264..: a word list, each word also with a leading-space variant, plus "\n" and "\n\n";
 * - after the words: added special tokens, as Qwen's tokenizers append theirs after the regular
 *   vocabulary: Qwen2-VL's vision tokens `<|vision_start|>`, `<|vision_end|>`, `<|image_pad|>`
 *   (VISION_START_ID = 522, VISION_END_ID = 523, IMAGE_PAD_ID = 524 today; a word appended to the
 *   list moves them, so code and tests use the constants).
 *
 * Encoding is greedy longest match: special strings first (vLLM's /tokenize parses special
 * tokens in text; we always do), then vocabulary words, else the UTF-8 bytes of one code point.
 * Properties the gateway relies on: `<|im_start|>think` and `<|im_start|>answer` are two tokens,
 * `<think>`, `</think>` and "Wait" one each.
 *
 * As in Qwen's tokenizer_config.json, `<think>`, `</think>`, `<tool_call>` and `</tool_call>` are
 * added tokens with `special: false`: `skip_special_tokens` does NOT drop their text; it drops
 * only the ChatML control tokens (`<|...|>`).
 */
import { InvalidRequestError } from '../errors.js';

export const SPECIAL_TOKENS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<think>',
  '</think>',
  '<tool_call>',
  '</tool_call>',
  '<|reserved_7|>',
] as const;

export const ENDOFTEXT_ID = 0;
export const IM_START_ID = 1;
/** `<|im_end|>`: the EOS of ChatML models (Qwen's generation_config eos_token_id). */
export const IM_END_ID = 2;
export const EOS_ID = IM_END_ID;
export const THINK_START_ID = 3;
export const THINK_END_ID = 4;
export const BYTE_BASE = SPECIAL_TOKENS.length;
export const WORD_BASE = BYTE_BASE + 256;

/**
 * Added special tokens after the words (see the header): Qwen2-VL's vision tokens. The chat
 * template renders an image as `<|vision_start|><|image_pad|><|vision_end|>` and the simulated
 * processor expands the `<|image_pad|>` to one per image patch (multimodal.ts).
 */
export const ADDED_SPECIAL_TOKENS = ['<|vision_start|>', '<|vision_end|>', '<|image_pad|>'] as const;

/**
 * Words of the vocabulary (each also gets a " word" variant). Order is the id order: append
 * only, never reorder, or every fixed id in the tests moves.
 */
const WORDS: readonly string[] = [
  // Delimiter and budget-forcing words the gateway tokenizes.
  'think', 'answer', 'Wait', 'wait', 'Final', 'Answer', 'Hmm', 'Alternatively',
  // ChatML roles.
  'system', 'user', 'assistant', 'tool',
  // Digits and punctuation.
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '42',
  '.', ',', ':', ';', '!', '?', "'", '"', '(', ')', '-', '+', '=', '*', '/',
  // Words of the scripted model's thinking and answers, and common English words.
  'Let', 'me', 'consider', 'the', 'problem', 'step', 'by', 'First', 'I', 'need', 'to', 'find',
  'what', 'question', 'asks', 'The', 'numbers', 'add', 'up', 'so', 'check', 'each', 'part',
  'again', 'that', 'seems', 'right', 'but', 'let', 'verify', 'result', 'So', 'is', 'It',
  'follows', 'from', 'steps', 'above', 'final', 'a', 'an', 'and', 'or', 'of', 'in', 'on',
  'for', 'with', 'this', 'it', 'be', 'are', 'was', 'not', 'you', 'we', 'can', 'do', 'if',
  'then', 'value', 'number', 'Next', 'Now', 'Hello', 'hello', 'world', 'What', 'How', 'Why',
  'yes', 'no', 'Yes', 'No', 'OK', 'okay', 'true', 'false', 'model', 'reasoning', 'thinking',
  'Think', 'Please', 'please', 'two', 'plus', 'equals', 'sum', 'count', 'test',
];

/** Id of the first added special token: right after the words and their space variants. */
export const ADDED_BASE = WORD_BASE + 2 + 2 * new Set(WORDS).size;
export const VISION_START_ID = ADDED_BASE;
export const VISION_END_ID = ADDED_BASE + 1;
export const IMAGE_PAD_ID = ADDED_BASE + 2;

/**
 * Ids whose text `skip_special_tokens: true` removes: the ChatML control tokens and the vision
 * tokens (special in Qwen2-VL's tokenizer_config.json), not the think and tool-call tags (header).
 */
const SKIPPED_SPECIALS = new Set<number>([0, 1, 2, 7, VISION_START_ID, VISION_END_ID, IMAGE_PAD_ID]);

/** Every special string and its id, matched first by the encoder. */
const SPECIAL_IDS: ReadonlyArray<readonly [string, number]> = [
  ...SPECIAL_TOKENS.map((s, id) => [s, id] as const),
  ...ADDED_SPECIAL_TOKENS.map((s, i) => [s, ADDED_BASE + i] as const),
];

export const NEWLINE = '\n';
export const DOUBLE_NEWLINE = '\n\n';

interface TrieNode {
  next: Map<number, TrieNode>;
  id: number; // -1 when no token ends here
}

export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The text of one token (`<0xAB>` for a byte token), as vLLM's `token_strs`. */
  tokenStr(id: number): string;
  /** The id of a string that is exactly one token; throws otherwise (module-init checks). */
  id(text: string): number;
  isSpecial(id: number): boolean;
  isSkippedSpecial(id: number): boolean;
  createDetokenizer(opts?: { skipSpecialTokens?: boolean }): IncrementalDetokenizer;
}

/**
 * Text from ids as they arrive. Like vLLM's incremental detokenizer, it emits text only when
 * the pending bytes form complete UTF-8, so text may lag ids by a token across a multibyte
 * character split into byte tokens.
 */
export interface IncrementalDetokenizer {
  push(id: number): string;
  /** Whatever bytes are still pending (invalid/incomplete ones become U+FFFD). */
  flush(): string;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

function buildTokenizer(): Tokenizer {
  const strs: string[] = [...SPECIAL_TOKENS];
  for (let b = 0; b < 256; b++) strs.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const wordIds = new Map<string, number>();
  const addWord = (w: string): void => {
    if (wordIds.has(w)) return;
    wordIds.set(w, strs.length);
    strs.push(w);
  };
  addWord(NEWLINE);
  addWord(DOUBLE_NEWLINE);
  for (const w of WORDS) {
    addWord(w);
    addWord(` ${w}`);
  }
  if (strs.length !== ADDED_BASE) throw new Error(`simulator vocabulary: added tokens start at ${strs.length}, not ${ADDED_BASE}`);
  strs.push(...ADDED_SPECIAL_TOKENS);
  const vocabSize = strs.length;
  // Text of each token when decoded (byte tokens have none: they go through the UTF-8 decoder).
  const texts: string[] = strs.map((s, i) => (i >= BYTE_BASE && i < WORD_BASE ? '' : s));

  const root: TrieNode = { next: new Map(), id: -1 };
  for (const [w, id] of wordIds) {
    let node = root;
    for (let i = 0; i < w.length; i++) {
      const c = w.charCodeAt(i);
      let child = node.next.get(c);
      if (!child) {
        child = { next: new Map(), id: -1 };
        node.next.set(c, child);
      }
      node = child;
    }
    node.id = id;
  }

  const encode = (text: string): number[] => {
    const out: number[] = [];
    let i = 0;
    const n = text.length;
    outer: while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 60 /* '<' */) {
        for (const [sp, id] of SPECIAL_IDS) {
          if (text.startsWith(sp, i)) {
            out.push(id);
            i += sp.length;
            continue outer;
          }
        }
      }
      let node: TrieNode | undefined = root;
      let best = -1;
      let bestEnd = i;
      for (let j = i; j < n; j++) {
        node = node.next.get(text.charCodeAt(j));
        if (!node) break;
        if (node.id >= 0) {
          best = node.id;
          bestEnd = j + 1;
        }
      }
      if (best >= 0) {
        out.push(best);
        i = bestEnd;
        continue;
      }
      // Byte fallback: the UTF-8 bytes of one code point (a surrogate pair is one code point).
      const cp = text.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      for (const b of encoder.encode(text.slice(i, i + width))) out.push(BYTE_BASE + b);
      i += width;
    }
    return out;
  };

  const checkId = (id: number): void => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new InvalidRequestError(`Token id ${id} is out of vocabulary`, { param: 'tokens' });
    }
  };

  const decode = (ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string => {
    const skip = opts.skipSpecialTokens ?? false;
    let out = '';
    let bytes: number[] = [];
    for (const id of ids) {
      checkId(id);
      if (id >= BYTE_BASE && id < WORD_BASE) {
        bytes.push(id - BYTE_BASE);
        continue;
      }
      if (bytes.length) {
        out += utf8.decode(Uint8Array.from(bytes));
        bytes = [];
      }
      if (skip && SKIPPED_SPECIALS.has(id)) continue;
      out += texts[id]!;
    }
    if (bytes.length) out += utf8.decode(Uint8Array.from(bytes));
    return out;
  };

  const createDetokenizer = (opts: { skipSpecialTokens?: boolean } = {}): IncrementalDetokenizer => {
    const skip = opts.skipSpecialTokens ?? false;
    let pending: number[] = [];
    const flush = (): string => {
      if (!pending.length) return '';
      const s = utf8.decode(Uint8Array.from(pending));
      pending = [];
      return s;
    };
    return {
      push(id: number): string {
        checkId(id);
        if (id >= BYTE_BASE && id < WORD_BASE) {
          pending.push(id - BYTE_BASE);
          const cut = completeUtf8Prefix(pending);
          if (cut === 0) return '';
          const s = utf8.decode(Uint8Array.from(pending.slice(0, cut)));
          pending = pending.slice(cut);
          return s;
        }
        // Fast path (the scripted model only emits word and special tokens).
        const head = pending.length ? flush() : '';
        if (skip && SKIPPED_SPECIALS.has(id)) return head;
        return head + texts[id]!;
      },
      flush,
    };
  };

  return {
    vocabSize,
    encode,
    decode,
    tokenStr(id) {
      checkId(id);
      return strs[id]!;
    },
    id(text) {
      if (text.length === 0) throw new Error('empty token text');
      const ids = encode(text);
      if (ids.length !== 1) throw new Error(`simulator vocabulary: ${JSON.stringify(text)} is ${ids.length} tokens`);
      return ids[0]!;
    },
    isSpecial: (id) => (id >= 0 && id < BYTE_BASE) || (id >= ADDED_BASE && id < vocabSize),
    isSkippedSpecial: (id) => SKIPPED_SPECIALS.has(id),
    createDetokenizer,
  };
}

/**
 * Length of the longest prefix of `bytes` that does not end inside an incomplete UTF-8
 * sequence. Invalid bytes count as complete (they decode to U+FFFD at once), so nothing is
 * held back forever.
 */
export function completeUtf8Prefix(bytes: readonly number[]): number {
  const n = bytes.length;
  // Find the last lead byte among the last 4 bytes.
  for (let k = n - 1; k >= 0 && k >= n - 4; k--) {
    const b = bytes[k]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 1;
    return n - k < need ? k : n;
  }
  return n;
}

/** A simulator tokenizer. Every instance has the same vocabulary and ids; it holds no state. */
export function createSimTokenizer(): Tokenizer {
  return buildTokenizer();
}
