/**
 * thinkgate in front of one real server, with the recording proxy in between:
 * openai SDK -> gateway (buildApp, port 0) -> recording proxy -> llama-server / vLLM.
 */
import OpenAI from 'openai';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { startRecordingProxy, type RecordingProxy } from './recording-proxy.js';
import type { RealBackend } from './backends.js';

export interface RealStack {
  backend: RealBackend;
  proxy: RecordingProxy;
  app: FastifyInstance;
  url: string;
  client: OpenAI;
  close(): Promise<void>;
}

/** `profiles`: entries that override or add profiles (e.g. `think-tags` with another answer_prefix). */
export async function startRealStack(backend: RealBackend, profiles?: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<RealStack> {
  const proxy = await startRecordingProxy(backend.url);
  const config = loadConfigFromObject({
    ...extra,
    ...(profiles !== undefined ? { profiles } : {}),
    upstreams: [{ url: proxy.url, kind: backend.kind }],
    server: { log_level: 'silent', sse_keepalive_ms: 0 },
    // A slow CPU under load: generous first-token and idle timeouts.
    timeouts: { first_token_ms: 120_000, idle_ms: 120_000 },
    // hermes: Qwen3's tool-call syntax, the parser the suite's vLLM runs (servers.ts).
    models: { '*': { profile: 'think-tags', tool_call_parser: 'hermes' } },
  });
  const app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  const url = `http://127.0.0.1:${addr.port}`;
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 170_000 });
  return {
    backend,
    proxy,
    app,
    url,
    client,
    async close() {
      await app.close();
      await proxy.close();
    },
  };
}

/** Text -> ids on the real server itself (not through the gateway), without special-token additions. */
export async function tokenizeOn(b: RealBackend, text: string): Promise<number[]> {
  const body = b.kind === 'llamacpp' ? { content: text, add_special: false, parse_special: true } : { model: b.model, prompt: text, add_special_tokens: false };
  const res = await fetch(`${b.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`tokenize on ${b.label}: HTTP ${res.status}`);
  return ((await res.json()) as { tokens: number[] }).tokens;
}
