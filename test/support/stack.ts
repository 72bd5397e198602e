/**
 * The real thing on loopback: the vLLM simulator (a real HTTP server), a gateway from
 * buildApp() listening on port 0, and the official `openai` SDK pointed at it.
 */
import OpenAI from 'openai';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import type { SimOptions } from '../../src/sim/server.js';

export { until } from './wait.js';

export interface Stack {
  sim: Simulator;
  app: FastifyInstance;
  url: string;
  client: OpenAI;
  close(): Promise<void>;
}

export interface StackOptions {
  sim?: Partial<SimOptions>;
  /** Config file contents (merged over the defaults below). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  apiKey?: string;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const sim = await startSimulator(opts.sim ?? {});
  const config = loadConfigFromObject(
    {
      upstreams: [{ url: sim.url }],
      server: { log_level: 'silent', sse_keepalive_ms: 0 },
      models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } },
      ...opts.config,
    },
    opts.env ?? {},
  );
  const app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  const url = `http://127.0.0.1:${addr.port}`;
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: opts.apiKey ?? 'unused', maxRetries: 0, timeout: 15_000 });
  return {
    sim,
    app,
    url,
    client,
    async close() {
      await app.close();
      await sim.close();
    },
  };
}

/** The simulator's own tokenizer, through its real /tokenize: to count what the gateway returned. */
export async function countTokens(sim: Simulator, text: string): Promise<number> {
  const res = await fetch(`${sim.url}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-r1', prompt: text, add_special_tokens: false }),
  });
  const body = (await res.json()) as { count: number };
  return body.count;
}

type Recorded = ReturnType<Simulator['stats']>['lastRequests'][number];

/**
 * The upstream calls that were segments, in order: a chat request's first segment goes through
 * vLLM's /v1/chat/completions once the template is learned (routing.first_segment: chat, the
 * default; docs/upstream-protocol.md), every other one through /v1/completions.
 */
export function segmentRequests(sim: Simulator): Recorded[] {
  return sim.stats().lastRequests.filter((r) => r.path === '/v1/completions' || r.path === '/v1/chat/completions');
}

/** The upstream calls that carried the chat messages to the template: /tokenize, or the chat first segment. */
export function templateRequests(sim: Simulator): Recorded[] {
  return sim.stats().lastRequests.filter((r) => (r.path === '/tokenize' || r.path === '/v1/chat/completions') && (r.body as { messages?: unknown }).messages !== undefined);
}
