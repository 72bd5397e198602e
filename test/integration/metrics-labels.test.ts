/**
 * Issue 11, item 6: the `model` label of the gateway's metrics comes from the client, so it must
 * be bounded by what the upstreams serve, not by what clients send. Before the fix, 100 requests
 * with junk 1 KB model names (each a 404) took every slot of the label cap and the next real
 * model was counted as "other"; the junk names themselves sat in /metrics as 1 KB labels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import type { CompletionRequest, TokenizeChatRequest } from '../../src/engine/backend.js';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { VllmBackend } from '../../src/backends/vllm/client.js';
import { startStack, type Stack } from '../support/stack.js';

const JUNK = 120; // past the default cap of 100 model labels
/** 1 KB, the longest name the request schema takes. */
const junkName = (i: number): string => `${i}-`.padEnd(1024, 'x');

function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, max_thinking_tokens: 4 });
const completion = (model: string) => ({ model, prompt: 'hi', max_tokens: 8, max_thinking_tokens: 4 });

/** The `model` label values of thinkgate_requests_total. */
function modelLabels(metrics: string): string[] {
  return [...new Set([...metrics.matchAll(/^thinkgate_requests_total\{model="([^"]*)"/gm)].map((m) => m[1]!))].sort();
}

/** Sends the junk requests in small batches (the admission queue is not what is tested here). */
async function sendJunk(url: string, expectStatus: number): Promise<void> {
  for (let i = 0; i < JUNK; i += 10) {
    const batch = Array.from({ length: 10 }, (_, k) =>
      (i + k) % 2 === 0 ? post(url, '/v1/chat/completions', chat(junkName(i + k))) : post(url, '/v1/completions', completion(junkName(i + k))),
    );
    for (const res of await Promise.all(batch)) {
      expect(res.status, await res.clone().text()).toBe(expectStatus);
      await res.arrayBuffer();
    }
  }
}

describe('metrics: the model label is only ever a served model', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('counts 120 unknown 1 KB model names (404) under "unknown", and a real model still under its own name', async () => {
    stack = await startStack();
    await sendJunk(stack.url, 404);
    const ok = await post(stack.url, '/v1/chat/completions', chat('sim-r1'));
    expect(ok.status).toBe(200);
    await ok.json();
    const ok2 = await post(stack.url, '/v1/completions', completion('sim-qwen3'));
    expect(ok2.status).toBe(200);
    await ok2.json();

    const text = await (await fetch(`${stack.url}/metrics`)).text();
    expect(text).toContain('thinkgate_requests_total{model="sim-r1",stream="false",code="200",route="/v1/chat/completions"} 1');
    expect(text).toContain('thinkgate_requests_total{model="sim-qwen3",stream="false",code="200",route="/v1/completions"} 1');
    // The route label says which API the client spoke (issue 15, item 3): the junk went half to each.
    expect(text).toContain(`thinkgate_requests_total{model="unknown",stream="false",code="404",route="/v1/chat/completions"} ${JUNK / 2}`);
    expect(text).toContain(`thinkgate_requests_total{model="unknown",stream="false",code="404",route="/v1/completions"} ${JUNK / 2}`);
    expect(modelLabels(text)).toEqual(['sim-qwen3', 'sim-r1', 'unknown']);
    expect(text).not.toContain('xxxxxxxx');
    // No other series took a junk name either (histograms, outcomes, segments).
    const labelled = text.split('\n').filter((l) => l.includes('model="'));
    expect(labelled.every((l) => /model="(sim-r1|sim-qwen3|unknown)"/.test(l))).toBe(true);
  });
});

/**
 * llama-server answers whatever model name it is sent (it serves one model), so "the upstream
 * started it" does not make a name a served model: only the upstream's /v1/models list does.
 * This backend speaks to the simulator but, like llama-server, takes any name.
 */
class AnyNameBackend extends VllmBackend {
  override tokenizeChat(req: TokenizeChatRequest, signal?: AbortSignal) {
    return super.tokenizeChat({ ...req, model: 'sim-r1' }, signal);
  }
  override tokenize(_model: string, text: string, signal?: AbortSignal) {
    return super.tokenize('sim-r1', text, signal);
  }
  override tokenizePrompt(_model: string, text: string, add: boolean, signal?: AbortSignal) {
    return super.tokenizePrompt('sim-r1', text, add, signal);
  }
  override streamCompletion(req: CompletionRequest, signal: AbortSignal) {
    return super.streamCompletion({ ...req, model: 'sim-r1' }, signal);
  }
}

describe('metrics: an upstream that takes any model name', () => {
  let sim: Simulator | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await sim?.close();
    app = sim = undefined;
  });

  it('answers junk names (200) but counts them under "unknown"; the listed name keeps its label', async () => {
    sim = await startSimulator({});
    const config = loadConfigFromObject(
      { upstreams: [{ url: sim.url }], server: { log_level: 'silent', sse_keepalive_ms: 0 }, models: { '*': { profile: 'think-tags' } } },
      {},
    );
    const backend = new AnyNameBackend({ baseUrl: sim.url, timeouts: { ...config.timeouts, healthMs: config.health.timeoutMs } });
    app = await buildApp(config, { backends: [backend] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    const url = `http://127.0.0.1:${addr.port}`;

    await sendJunk(url, 200);
    const ok = await post(url, '/v1/chat/completions', chat('sim-r1'));
    expect(ok.status).toBe(200);
    await ok.json();

    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('thinkgate_requests_total{model="sim-r1",stream="false",code="200",route="/v1/chat/completions"} 1');
    expect(text).toContain(`thinkgate_requests_total{model="unknown",stream="false",code="200",route="/v1/chat/completions"} ${JUNK / 2}`);
    expect(text).toContain(`thinkgate_requests_total{model="unknown",stream="false",code="200",route="/v1/completions"} ${JUNK / 2}`);
    expect(modelLabels(text)).toEqual(['sim-r1', 'unknown']);
    expect(text).not.toContain('xxxxxxxx');
  });
});

describe('metrics: the route label', () => {
  it('tells /v1/messages and /v1/responses from chat for the same model', async () => {
    const stack = await startStack();
    try {
      const msg = await post(stack.url, '/v1/messages', { model: 'sim-r1', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
      expect(msg.status).toBe(200);
      await msg.json();
      const ok = await post(stack.url, '/v1/chat/completions', chat('sim-r1'));
      await ok.json();
      const resp = await post(stack.url, '/v1/responses', { model: 'sim-r1', input: 'hi', max_output_tokens: 64 });
      expect(resp.status).toBe(200);
      await resp.json();
      const text = await (await fetch(`${stack.url}/metrics`)).text();
      expect(text).toContain('thinkgate_requests_total{model="sim-r1",stream="false",code="200",route="/v1/responses"} 1');
      expect(text).toContain('thinkgate_requests_total{model="sim-r1",stream="false",code="200",route="/v1/messages"} 1');
      expect(text).toContain('thinkgate_requests_total{model="sim-r1",stream="false",code="200",route="/v1/chat/completions"} 1');
      const routes = new Set([...text.matchAll(/^thinkgate_requests_total\{[^}]*route="([^"]*)"/gm)].map((m) => m[1]));
      expect([...routes].sort()).toEqual(['/v1/chat/completions', '/v1/messages', '/v1/responses']);
    } finally {
      await stack.close();
    }
  });
});
