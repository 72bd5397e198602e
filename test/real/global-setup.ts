/**
 * vitest globalSetup of the real-server suite (vitest.real.config.ts): starts the servers the
 * environment names, hands their URLs to the tests (`inject('realBackends')`), stops them after.
 *
 * - THINKGATE_REAL_LLAMA_SERVER + THINKGATE_REAL_GGUF: start llama-server on that model.
 * - THINKGATE_REAL_LLAMA_SERVER + THINKGATE_REAL_GEMMA_GGUF: a second llama-server on Gemma 3 270M
 *   (fetch-gemma.sh), with Gemma 3's chat template (the GGUF carries none), for the non-ASCII
 *   tests (`inject('realGemma')`; null without it).
 * - THINKGATE_REAL_VLLM_PYTHON + THINKGATE_REAL_HF_DIR: start vLLM (that venv's python) on that folder.
 * - THINKGATE_REAL_VLLM_PYTHON + THINKGATE_REAL_VL_DIR: a second vLLM on the tiny random Qwen2-VL
 *   (make-tiny-vl-model.py) with --enable-scale-out, for media parts (`inject('realVl')`; null without it).
 * - THINKGATE_TEST_VLLM_URL (+ optional THINKGATE_TEST_VLLM_MODEL): a vLLM that already runs
 *   anywhere (a GPU box with a Qwen3 / QwQ / R1 model); the same suite runs against it.
 * - THINKGATE_REAL_LOG_DIR: where server logs go (default .cache/real/logs).
 * .ci/real.sh sets these. With none of them the suite fails: a run that tests nothing is no pass.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startLlamaServer, startVllm, startVllmVl, type RunningServer } from './servers.js';
import type { RealBackend } from './backends.js';

export const TINY_MODEL = 'tiny-random-qwen3';
export const GEMMA_MODEL = 'gemma-3-270m';
export const VL_MODEL = 'tiny-random-qwen2-vl';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  const logDir = resolve(env['THINKGATE_REAL_LOG_DIR'] ?? '.cache/real/logs');
  mkdirSync(logDir, { recursive: true });
  const running: RunningServer[] = [];
  const backends: RealBackend[] = [];
  let gemma: RealBackend | null = null;
  let vl: RealBackend | null = null;
  const teardown = async () => {
    await Promise.all(running.map((s) => s.close()));
  };
  try {
    const bin = env['THINKGATE_REAL_LLAMA_SERVER'];
    const gguf = env['THINKGATE_REAL_GGUF'];
    if (bin && gguf) {
      const t0 = Date.now();
      const s = await startLlamaServer({ bin, gguf, model: TINY_MODEL, logFile: join(logDir, 'llama-server.log') });
      running.push(s);
      backends.push({ kind: 'llamacpp', label: 'llama.cpp llama-server', url: s.url, model: s.model, managed: true });
      console.log(`[real] llama-server ready at ${s.url} in ${Date.now() - t0} ms`);
    }
    const gemmaGguf = env['THINKGATE_REAL_GEMMA_GGUF'];
    if (bin && gemmaGguf) {
      const t0 = Date.now();
      const chatTemplateFile = join(dirname(fileURLToPath(import.meta.url)), 'gemma3-chat-template.jinja');
      const s = await startLlamaServer({ bin, gguf: gemmaGguf, model: GEMMA_MODEL, logFile: join(logDir, 'llama-server-gemma.log'), ctxPerSlot: 2048, chatTemplateFile });
      running.push(s);
      gemma = { kind: 'llamacpp', label: 'llama.cpp llama-server, Gemma 3 270M', url: s.url, model: s.model, managed: true };
      console.log(`[real] llama-server (Gemma 3 270M) ready at ${s.url} in ${Date.now() - t0} ms`);
    }
    const python = env['THINKGATE_REAL_VLLM_PYTHON'];
    const hf = env['THINKGATE_REAL_HF_DIR'];
    if (python && hf) {
      const t0 = Date.now();
      const s = await startVllm({ python, hfDir: hf, model: TINY_MODEL, logFile: join(logDir, 'vllm.log') });
      running.push(s);
      backends.push({ kind: 'vllm', label: 'vLLM (CPU)', url: s.url, model: s.model, managed: true });
      console.log(`[real] vLLM ready at ${s.url} in ${Date.now() - t0} ms`);
    }
    const vlDir = env['THINKGATE_REAL_VL_DIR'];
    if (python && vlDir) {
      const t0 = Date.now();
      const s = await startVllmVl({ python, hfDir: vlDir, model: VL_MODEL, logFile: join(logDir, 'vllm-vl.log') });
      running.push(s);
      vl = { kind: 'vllm', label: 'vLLM (CPU), tiny Qwen2-VL', url: s.url, model: s.model, managed: true };
      console.log(`[real] vLLM (tiny Qwen2-VL) ready at ${s.url} in ${Date.now() - t0} ms`);
    }
    const external = env['THINKGATE_TEST_VLLM_URL'];
    if (external) {
      const url = external.replace(/\/+$/, '');
      let model = env['THINKGATE_TEST_VLLM_MODEL'];
      if (!model) {
        const list = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
        model = list.data[0]?.id;
      }
      if (!model) throw new Error(`THINKGATE_TEST_VLLM_URL=${url} serves no model`);
      backends.push({ kind: 'vllm', label: `vLLM at ${url}`, url, model, managed: false });
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  if (backends.length === 0 && gemma === null && vl === null) {
    throw new Error('No real server configured: run `npm run test:real` (.ci/real.sh), or set THINKGATE_TEST_VLLM_URL (see test/real/global-setup.ts).');
  }
  project.provide('realBackends', backends);
  project.provide('realGemma', gemma);
  project.provide('realVl', vl);
  return teardown;
}
