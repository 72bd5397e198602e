/**
 * The tiny test model's hyper-parameters and weights, shared by the GGUF (llama.cpp) and the
 * Hugging Face (vLLM) writers so both servers run the very same network.
 *
 * A 2-layer, width-64 Qwen3 with random weights and the REAL Qwen3 vocabulary. Random weights
 * alone make a model that emits byte tokens and invalid UTF-8 (llama-server then answers 500), and
 * that almost never closes thinking. So the weights are *steered* (the trick of the feasibility
 * study, shared/tools/tiny-model/NOTES.md section 3): dimension 0 of every token embedding is a
 * large constant, which survives the residual stream to the final norm, and dimension 0 of each
 * output row is a per-token score. The logits are then dominated by that score: plain lowercase
 * ASCII words, "," "." and newlines are likely, everything else is not, and `</think>` and the
 * end-of-turn token get scores tuned so that thinking closes after tens to hundreds of tokens.
 */

export interface Vocab {
  /** id -> token string (byte-level BPE spelling: `Ġ` is a space, `Ċ` a newline). */
  tokens: string[];
  thinkEndId: number;
  eosId: number;
}

export interface Steering {
  /** Score of ordinary word tokens (and minus that of every other token). */
  good: number;
  /** Score of `</think>`: a little above `good` makes it appear every few dozen tokens at T = 1. */
  thinkEnd: number;
  /** Score of the end-of-turn token (`<|im_end|>`). */
  eos: number;
  /** Noise on the other output dimensions: what makes different contexts pick different words. */
  outNoise: number;
  /** Only tokens below this id count as words (the common ones). */
  goodMaxId: number;
  /**
   * Dimension 0 of every embedding. The attention and MLP blocks add vectors of rms ~2 to the
   * residual stream; a large constant keeps dimension 0 dominant after the final norm, so the
   * scores above decide the logits.
   */
  embedConst: number;
}

export const DEFAULT_STEERING: Steering = { good: 4, thinkEnd: 4.5, eos: 4.25, outNoise: 0.2, goodMaxId: 8000, embedConst: 16 };

export const HYPER = {
  nEmbd: 64,
  nLayer: 2,
  nHead: 2,
  nHeadKv: 1,
  /** 32, not 64/4 = 16: vLLM's CPU attention supports head sizes from 32 up. */
  headDim: 32,
  nFf: 128,
  contextLength: 4096,
  ropeTheta: 1_000_000,
  rmsEps: 1e-6,
} as const;

export type DType = 'F32' | 'F16';

export interface Tensor {
  /** llama.cpp's name (convert_hf_to_gguf.py's mapping for qwen3). */
  gguf: string;
  /** Hugging Face transformers' Qwen3ForCausalLM name. */
  hf: string;
  /** Row-major, outermost first (HF order; GGUF lists the dims reversed). */
  shape: number[];
  dtype: DType;
  data: Float32Array;
}

/** xorshift32 in [-1, 1): seeded, so the model is the same on every machine and every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  };
}

const WORD = /^(Ġ?[a-z]{2,}|[.,]|Ċ|ĊĊ)$/;

export function tokenScore(vocab: Vocab, id: number, st: Steering): number {
  if (id === vocab.thinkEndId) return st.thinkEnd;
  if (id === vocab.eosId) return st.eos;
  const t = vocab.tokens[id] ?? '';
  return id < st.goodMaxId && WORD.test(t) ? st.good : -st.good;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float32 -> float16 bits, truncating the mantissa (the study's converter; values here are small and normal). */
export function toF16Bits(val: number): number {
  f32[0] = val;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // our values are never that small: flush to zero
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (mant >>> 13);
}

export function buildTensors(vocab: Vocab, st: Steering = DEFAULT_STEERING, seed = 1234567): Tensor[] {
  const { nEmbd, nLayer, nHead, nHeadKv, headDim, nFf } = HYPER;
  const nVocab = vocab.tokens.length;
  const rnd = prng(seed);
  const fill = (n: number, f: (i: number) => number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = f(i);
    return a;
  };
  const ones = (n: number) => fill(n, () => 1);
  const random = (n: number, scale: number) => fill(n, () => rnd() * scale);
  const t = (gguf: string, hf: string, shape: number[], data: Float32Array, dtype: DType = 'F32'): Tensor => ({ gguf, hf, shape, dtype, data });

  const tensors: Tensor[] = [
    // Embedding: dim 0 is the constant "steering" feature, the rest random.
    t('token_embd.weight', 'model.embed_tokens.weight', [nVocab, nEmbd], fill(nVocab * nEmbd, (i) => (i % nEmbd === 0 ? st.embedConst : rnd() * 0.5)), 'F16'),
    t('output_norm.weight', 'model.norm.weight', [nEmbd], ones(nEmbd)),
    // Output: dim 0 of row r is token r's score.
    t('output.weight', 'lm_head.weight', [nVocab, nEmbd],
      fill(nVocab * nEmbd, (i) => (i % nEmbd === 0 ? tokenScore(vocab, Math.floor(i / nEmbd), st) : rnd() * st.outNoise)), 'F16'),
  ];
  for (let l = 0; l < nLayer; l++) {
    const g = `blk.${l}.`;
    const h = `model.layers.${l}.`;
    tensors.push(
      t(g + 'attn_norm.weight', h + 'input_layernorm.weight', [nEmbd], ones(nEmbd)),
      t(g + 'attn_q.weight', h + 'self_attn.q_proj.weight', [nHead * headDim, nEmbd], random(nHead * headDim * nEmbd, 0.2)),
      t(g + 'attn_k.weight', h + 'self_attn.k_proj.weight', [nHeadKv * headDim, nEmbd], random(nHeadKv * headDim * nEmbd, 0.2)),
      t(g + 'attn_v.weight', h + 'self_attn.v_proj.weight', [nHeadKv * headDim, nEmbd], random(nHeadKv * headDim * nEmbd, 0.2)),
      t(g + 'attn_output.weight', h + 'self_attn.o_proj.weight', [nEmbd, nHead * headDim], random(nEmbd * nHead * headDim, 0.2)),
      t(g + 'attn_q_norm.weight', h + 'self_attn.q_norm.weight', [headDim], ones(headDim)),
      t(g + 'attn_k_norm.weight', h + 'self_attn.k_norm.weight', [headDim], ones(headDim)),
      t(g + 'ffn_norm.weight', h + 'post_attention_layernorm.weight', [nEmbd], ones(nEmbd)),
      t(g + 'ffn_gate.weight', h + 'mlp.gate_proj.weight', [nFf, nEmbd], random(nFf * nEmbd, 0.2)),
      t(g + 'ffn_up.weight', h + 'mlp.up_proj.weight', [nFf, nEmbd], random(nFf * nEmbd, 0.2)),
      t(g + 'ffn_down.weight', h + 'mlp.down_proj.weight', [nEmbd, nFf], random(nEmbd * nFf, 0.2)),
    );
  }
  return tensors;
}

/** The tensor's bytes in its dtype, little-endian. */
export function tensorBytes(t: Tensor): Buffer {
  if (t.dtype === 'F32') return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint16Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = toF16Bits(t.data[i]!);
  return Buffer.from(out.buffer);
}
