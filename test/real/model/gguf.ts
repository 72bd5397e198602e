/**
 * A minimal GGUF v3 writer (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): key-value
 * metadata, tensor infos, 32-byte aligned data. Enough for llama.cpp's `qwen3` architecture
 * (src/llama-arch.cpp and llama-model.cpp name the keys and tensors it loads).
 */
import { writeFileSync } from 'node:fs';
import { HYPER, tensorBytes, type Tensor } from './weights.js';
import type { GgufVocab } from './vocab.js';

const ALIGN = 32;
const enum T { U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STR = 8, ARR = 9 }
type Value = { t: T.U32 | T.I32 | T.F32; v: number } | { t: T.BOOL; v: boolean } | { t: T.STR; v: string } | { t: T.ARR; of: T.STR; v: string[] } | { t: T.ARR; of: T.I32; v: number[] };

class Out {
  readonly parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v: number): void { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  pad(): void { const n = (ALIGN - (this.length % ALIGN)) % ALIGN; if (n > 0) this.push(Buffer.alloc(n)); }
}

function writeValue(o: Out, val: Value): void {
  o.u32(val.t);
  switch (val.t) {
    case T.U32: return o.u32(val.v);
    case T.I32: return o.i32(val.v);
    case T.F32: return o.f32(val.v);
    case T.BOOL: return o.push(Buffer.from([val.v ? 1 : 0]));
    case T.STR: return o.str(val.v);
    case T.ARR:
      o.u32(val.of);
      o.u64(val.v.length);
      if (val.of === T.STR) for (const s of val.v as string[]) o.str(s);
      else for (const n of val.v as number[]) o.i32(n);
  }
}

export function writeGguf(path: string, vocab: GgufVocab, tensors: Tensor[], name: string): number {
  const arch = 'qwen3';
  const h = HYPER;
  const kv: [string, Value][] = [
    ['general.architecture', { t: T.STR, v: arch }],
    ['general.name', { t: T.STR, v: name }],
    ['general.alignment', { t: T.U32, v: ALIGN }],
    [`${arch}.context_length`, { t: T.U32, v: h.contextLength }],
    [`${arch}.embedding_length`, { t: T.U32, v: h.nEmbd }],
    [`${arch}.block_count`, { t: T.U32, v: h.nLayer }],
    [`${arch}.feed_forward_length`, { t: T.U32, v: h.nFf }],
    [`${arch}.attention.head_count`, { t: T.U32, v: h.nHead }],
    [`${arch}.attention.head_count_kv`, { t: T.U32, v: h.nHeadKv }],
    [`${arch}.attention.key_length`, { t: T.U32, v: h.headDim }],
    [`${arch}.attention.value_length`, { t: T.U32, v: h.headDim }],
    [`${arch}.rope.freq_base`, { t: T.F32, v: h.ropeTheta }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { t: T.F32, v: h.rmsEps }],
    ['tokenizer.ggml.model', { t: T.STR, v: 'gpt2' }],
    ['tokenizer.ggml.pre', { t: T.STR, v: 'qwen2' }],
    ['tokenizer.ggml.tokens', { t: T.ARR, of: T.STR, v: vocab.tokens }],
    ['tokenizer.ggml.token_type', { t: T.ARR, of: T.I32, v: vocab.types }],
    ['tokenizer.ggml.merges', { t: T.ARR, of: T.STR, v: vocab.merges }],
    ['tokenizer.ggml.eos_token_id', { t: T.U32, v: vocab.eosId }],
    ['tokenizer.ggml.padding_token_id', { t: T.U32, v: vocab.padId }],
    ['tokenizer.ggml.bos_token_id', { t: T.U32, v: vocab.bosId }],
    ['tokenizer.ggml.add_bos_token', { t: T.BOOL, v: false }],
  ];
  if (vocab.chatTemplate !== undefined) kv.push(['tokenizer.chat_template', { t: T.STR, v: vocab.chatTemplate }]);

  const o = new Out();
  o.push(Buffer.from('GGUF', 'ascii'));
  o.u32(3);
  o.u64(tensors.length);
  o.u64(kv.length);
  for (const [k, v] of kv) {
    o.str(k);
    writeValue(o, v);
  }
  const datas: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t);
    o.str(t.gguf);
    o.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) o.u64(d); // GGUF lists ne0 (the innermost) first
    o.u32(t.dtype === 'F16' ? 1 : 0); // ggml_type: 0 F32, 1 F16
    o.u64(offset);
    datas.push(bytes);
    offset += bytes.length;
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad > 0) {
      datas.push(Buffer.alloc(pad));
      offset += pad;
    }
  }
  o.pad();
  const file = Buffer.concat([...o.parts, ...datas]);
  writeFileSync(path, file);
  return file.length;
}
