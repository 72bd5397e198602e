/**
 * Makes the real-server suite's model: a tiny steered Qwen3 (test/real/model/weights.ts) with the
 * real Qwen3 tokenizer and chat template, as a GGUF file for llama.cpp and a Hugging Face folder
 * for vLLM. Deterministic (seeded) and a few seconds; never committed, made at test time.
 *
 * usage: tsx test/real/make-tiny-model.ts <dir with tokenizer.json + tokenizer_config.json> <out dir>
 * writes <out>/tiny-qwen3.gguf and <out>/hf/ ; steering knobs for experiments:
 * TINY_GOOD, TINY_THINK_END, TINY_EOS, TINY_OUT_NOISE, TINY_EMBED (see DEFAULT_STEERING).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildTensors, DEFAULT_STEERING, type Steering } from './model/weights.js';
import { ggufVocab, readTokenizerFiles } from './model/vocab.js';
import { writeGguf } from './model/gguf.js';
import { writeHfFolder } from './model/hf-folder.js';

export const TINY_MODEL_NAME = 'tiny-random-qwen3';

export function makeTinyModel(tokenizerDir: string, outDir: string, steering: Steering = DEFAULT_STEERING): { gguf: string; hf: string } {
  mkdirSync(outDir, { recursive: true });
  const files = readTokenizerFiles(tokenizerDir);
  const vocab = ggufVocab(files);
  const tensors = buildTensors(vocab, steering);
  const gguf = join(outDir, 'tiny-qwen3.gguf');
  const hf = join(outDir, 'hf');
  writeGguf(gguf, vocab, tensors, TINY_MODEL_NAME);
  writeHfFolder(hf, files, vocab, tensors);
  return { gguf, hf };
}

function steeringFromEnv(): Steering {
  const num = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);
  const s = DEFAULT_STEERING;
  return {
    ...s,
    good: num('TINY_GOOD', s.good),
    thinkEnd: num('TINY_THINK_END', s.thinkEnd),
    eos: num('TINY_EOS', s.eos),
    outNoise: num('TINY_OUT_NOISE', s.outNoise),
    embedConst: num('TINY_EMBED', s.embedConst),
  };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename ?? '')) {
  const [tokDir, out] = process.argv.slice(2);
  if (tokDir === undefined || out === undefined) {
    console.error('usage: tsx test/real/make-tiny-model.ts <tokenizer dir> <out dir>');
    process.exit(2);
  }
  const t0 = Date.now();
  const r = makeTinyModel(tokDir, out, steeringFromEnv());
  console.log(`tiny model: ${r.gguf} and ${r.hf}/ in ${Date.now() - t0} ms`);
}
