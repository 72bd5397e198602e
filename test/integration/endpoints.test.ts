/** The operational endpoints: models, probes, metrics, and the OpenAPI document vs the routes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startStack, until, type Stack } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());

describe('endpoints', () => {
  it('GET /v1/models lists the upstream models', async () => {
    const page = await stack.client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['sim-r1', 'sim-qwen3', 'sim-s1']);
  });

  it('GET /health and /ready', async () => {
    expect(await (await fetch(`${stack.url}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.url}/ready`);
    expect(ready.status).toBe(200);
  });

  it('GET /ready is 503 when no upstream is healthy', async () => {
    const s = await startStack({ config: { health: { interval_ms: 50, timeout_ms: 200 } } });
    try {
      await s.sim.close();
      let status = 200;
      await until(async () => (status = (await fetch(`${s.url}/ready`)).status) !== 200, 2000, '/ready to change');
      expect(status).toBe(503);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/thinkgate_upstream_healthy\{upstream="http:\/\/127\.0\.0\.1:\d+"\} 0/);
    } finally {
      await s.app.close();
    }
  });

  it('GET /metrics exposes the spec names after a forced request', async () => {
    await stack.client.chat.completions.create({ model: 'sim-r1', messages: [{ role: 'user', content: 'x' }], max_thinking_tokens: 4, min_thinking_tokens: 2 } as never);
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    for (const name of [
      'thinkgate_requests_total', 'thinkgate_request_thinking_tokens_bucket', 'thinkgate_request_answer_tokens_bucket',
      'thinkgate_thinking_extensions_total', 'thinkgate_thinking_truncations_total', 'thinkgate_request_segments_bucket',
      'thinkgate_time_to_first_token_seconds_bucket', 'thinkgate_time_to_first_answer_token_seconds_bucket',
      'thinkgate_request_duration_seconds_bucket', 'thinkgate_inflight_requests', 'thinkgate_client_disconnects_total',
      'thinkgate_build_info',
    ]) expect(text, name).toContain(name);
    expect(text).toMatch(/thinkgate_requests_total\{model="sim-r1",stream="false",code="200",route="\/v1\/chat\/completions"\} 1/);
    expect(text).toMatch(/thinkgate_thinking_truncations_total\{model="sim-r1"\} 1/);
  });

  it('GET /openapi.yaml documents exactly the routes the app serves', async () => {
    const res = await fetch(`${stack.url}/openapi.yaml`);
    expect(res.status).toBe(200);
    const doc = parse(await res.text()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    // Every route the app registered (HEAD twins of GETs aside) is documented, and nothing else.
    const served = stack.app.thinkgate.routes.filter((r) => !r.startsWith('HEAD ')).sort();
    expect(documented).toEqual(served);
    expect(served).toEqual([
      'GET /health', 'GET /metrics', 'GET /openapi.yaml', 'GET /ready', 'GET /tokenizer_info', 'GET /v1/models',
      'POST /detokenize', 'POST /tokenize', 'POST /v1/chat/completions', 'POST /v1/completions', 'POST /v1/messages', 'POST /v1/responses',
    ]);
  });
});
