/**
 * The Hugging Face folder that vLLM loads: config.json (Qwen3ForCausalLM), model.safetensors,
 * and the tokenizer files unchanged (tokenizer.json, tokenizer_config.json with the real Qwen3
 * chat template), plus vocab.json and merges.txt for the slow-tokenizer path. No
 * generation_config.json: vLLM would take default sampling parameters from it, and the suite
 * sends its own.
 *
 * safetensors layout (https://github.com/huggingface/safetensors#format): u64 LE header length,
 * a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian data.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HYPER, tensorBytes, type Tensor } from './weights.js';
import type { GgufVocab, TokenizerFiles } from './vocab.js';

export function writeSafetensors(path: string, tensors: Tensor[]): number {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const datas: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t);
    header[t.hf] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    datas.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // data starts 8-byte aligned
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const file = Buffer.concat([len, Buffer.from(json, 'utf8'), ...datas]);
  writeFileSync(path, file);
  return file.length;
}

export function writeHfFolder(dir: string, files: TokenizerFiles, vocab: GgufVocab, tensors: Tensor[]): number {
  mkdirSync(dir, { recursive: true });
  const h = HYPER;
  const config = {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    vocab_size: vocab.tokens.length,
    hidden_size: h.nEmbd,
    intermediate_size: h.nFf,
    num_hidden_layers: h.nLayer,
    num_attention_heads: h.nHead,
    num_key_value_heads: h.nHeadKv,
    head_dim: h.headDim,
    hidden_act: 'silu',
    max_position_embeddings: h.contextLength,
    rms_norm_eps: h.rmsEps,
    rope_theta: h.ropeTheta,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0,
    tie_word_embeddings: false,
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: h.nLayer,
    bos_token_id: vocab.bosId,
    eos_token_id: vocab.eosId,
    torch_dtype: 'float32',
    transformers_version: '4.51.0',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(join(dir, 'tokenizer.json'), files.tokenizerText);
  writeFileSync(join(dir, 'tokenizer_config.json'), files.configText);
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(files.tokenizer.model.vocab));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n' + vocab.merges.join('\n') + '\n');
  return writeSafetensors(join(dir, 'model.safetensors'), tensors);
}
