/**
 * OpenTelemetry tracing end to end: openai SDK -> thinkgate -> vLLM simulator, the spans
 * exported over OTLP/HTTP to a receiver on a real socket (test/support/otlp-receiver.ts), in both
 * encodings: protobuf (the default, decoded with the official .proto definitions) and JSON,
 * decoded and checked as a tree: the request's server span, continuing the client's traceparent,
 * and one client span per upstream segment (cause, replica, tokens), whose traceparent reached
 * the simulator. Off, nothing is exported and no traceparent is invented.
 */
import { afterEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { until } from '../support/stack.js';
import { startHostileUpstream } from '../support/hostile-upstream.js';

/** Slack between two spans' anchored clocks (see the nesting checks). */
const SKEW_NS = 1_000_000n;

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function sim(opts: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const s = await startSimulator(opts);
  open.push(s);
  return s;
}

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  open.push(r);
  return r;
}

async function gatewayWith(upstreams: string[], env: Record<string, string>, extra: Record<string, unknown> = {}) {
  const config = loadConfigFromObject(
    {
      upstreams: upstreams.map((url) => ({ url })),
      server: { log_level: 'silent', sse_keepalive_ms: 0 },
      health: { interval_ms: 60_000, timeout_ms: 10_000 },
      models: { '*': { profile: 'think-tags' } },
      ...extra,
    },
    env,
  );
  const app: FastifyInstance = await buildApp(config, { traceExportDelayMs: 20 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  open.push({ close: () => app.close() });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return { app, url, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 15_000 }) };
}

const ask = (extra: Record<string, unknown> = {}) => ({
  model: 'sim-r1',
  messages: [{ role: 'user', content: 'What is 6 x 7?' }],
  temperature: 0,
  ...extra,
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

/** The request span of `requestId` and its children, once the request span arrived. */
async function treeOf(rx: OtlpReceiver, requestId: string): Promise<{ root: ReceivedSpan; children: ReceivedSpan[] }> {
  await until(() => rx.spans.some((s) => s.attributes['thinkgate.request_id'] === requestId));
  const root = rx.spans.find((s) => s.attributes['thinkgate.request_id'] === requestId)!;
  const children = rx.spans.filter((s) => s.parentSpanId === root.spanId).sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
  return { root, children };
}

const upstreamCalls = (s: Simulator) => s.stats().lastRequests.filter((r) => r.path === '/v1/completions');
/** The chat first segment's calls (routing.first_segment: chat, once a template is learned). */
const chatCalls = (s: Simulator) => s.stats().lastRequests.filter((r) => r.path === '/v1/chat/completions');

/** Each encoding runs the same tests: protobuf by default (no protocol variable), JSON when asked for. */
const ENCODINGS = [
  { name: 'http/protobuf, the default', env: {} as Record<string, string>, contentType: 'application/x-protobuf' },
  { name: 'http/json', env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } as Record<string, string>, contentType: 'application/json' },
];

describe.each(ENCODINGS)('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), $name', ({ env: protocolEnv, contentType }) => {
  const gateway = (upstreams: string[], env: Record<string, string>, extra: Record<string, unknown> = {}) =>
    gatewayWith(upstreams, { ...protocolEnv, ...env }, extra);

  it('a forced request: the server span continues the client traceparent; each segment is a child with cause, replica and tokens; vLLM got its traceparent', async () => {
    const s = await sim();
    const rx = await receiver();
    const gw = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'tg-test' });
    // The simulator thinks 30 tokens by itself: at least 35 extends once ("Wait"), at most 38 then forces the close.
    const res = (await gw.client.chat.completions.create(ask({ min_thinking_tokens: 35, max_thinking_tokens: 38 }) as never, {
      headers: { traceparent: CLIENT_TRACEPARENT, 'x-request-id': 'trace-forced-1' },
    })) as OpenAI.ChatCompletion & { budget_forcing: { segments: number; extensions: number; truncated: boolean; thinking_tokens: number } };
    const bf = res.budget_forcing;
    expect(bf.extensions).toBe(1);
    expect(bf.truncated).toBe(true);

    const { root, children } = await treeOf(rx, 'trace-forced-1');
    expect(root.traceId).toBe(TRACE_ID);
    expect(root.parentSpanId).toBe(CLIENT_SPAN);
    expect(root.kind).toBe(2); // SERVER
    expect(root.name).toBe('POST /v1/chat/completions');
    expect(root.resource['service.name']).toBe('tg-test');
    expect(root.attributes).toMatchObject({
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'sim-r1',
      'gen_ai.usage.input_tokens': res.usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': res.usage!.completion_tokens,
      'gen_ai.usage.reasoning.output_tokens': bf.thinking_tokens,
      'thinkgate.stream': false,
      'thinkgate.thinking_tokens': bf.thinking_tokens,
      'thinkgate.extensions': 1,
      'thinkgate.truncated': true,
      'thinkgate.segments': bf.segments,
      'thinkgate.upstream': s.url,
    });

    // One child per segment, in order, with the engine's causes.
    expect(children.map((c) => c.attributes['thinkgate.segment.cause'])).toEqual(['initial', 'extend', 'close']);
    expect(children).toHaveLength(bf.segments);
    // The engine numbers segments from 1, as in their upstream request ids (`<request id>-<n>`).
    expect(children.map((c) => c.attributes['thinkgate.segment.index'])).toEqual([1, 2, 3]);
    const calls = upstreamCalls(s).slice(-bf.segments);
    const port = Number(new URL(s.url).port);
    for (const [i, c] of children.entries()) {
      expect(c.traceId).toBe(TRACE_ID);
      expect(c.kind).toBe(3); // CLIENT
      expect(c.name).toBe('text_completion sim-r1');
      expect(c.attributes).toMatchObject({
        'gen_ai.operation.name': 'text_completion',
        'gen_ai.request.model': 'sim-r1',
        'thinkgate.upstream': s.url,
        'server.address': '127.0.0.1',
        'server.port': port,
        'thinkgate.choice': 0,
      });
      const body = calls[i]!.body as { prompt: number[] };
      // What vLLM was asked and what it reported.
      expect(c.attributes['thinkgate.prompt_tokens']).toBe(body.prompt.length);
      expect(c.attributes['gen_ai.usage.input_tokens']).toBe(body.prompt.length);
      expect(typeof c.attributes['gen_ai.usage.output_tokens']).toBe('number');
      // The upstream call carried this span's context: vLLM's own tracing continues under the segment.
      expect(calls[i]!.headers['traceparent']).toBe(`00-${TRACE_ID}-${c.spanId}-01`);
      expect(calls[i]!.headers['x-request-id']).toBe(`trace-forced-1-${i + 1}`);
      // Nested in the request's span. The SDK anchors each span's clock (Date.now at its start plus
      // performance.now), so two spans' clocks can differ by ~0.1 ms: 1 ms of slack.
      expect(c.startNs).toBeGreaterThanOrEqual(root.startNs - SKEW_NS);
      expect(c.endNs).toBeLessThanOrEqual(root.endNs + SKEW_NS);
    }
    // A continuation's prompt is the previous one plus what was generated: vLLM's prefix cache served it.
    expect(children[1]!.attributes['gen_ai.usage.cache_read.input_tokens']).toBeGreaterThan(0);
    const outputs = children.reduce((n, c) => n + (c.attributes['gen_ai.usage.output_tokens'] as number), 0);
    expect(outputs).toBeGreaterThanOrEqual(bf.thinking_tokens);
  });

  it('without a client traceparent, a stream starts a new trace and vLLM still gets one; the exporter posts its encoding to /v1/traces', async () => {
    const s = await sim();
    const rx = await receiver();
    const gw = await gateway([s.url], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces` });
    const stream = await gw.client.chat.completions.create({ ...ask({ max_thinking_tokens: 10 }), stream: true } as never, {
      headers: { 'x-request-id': 'trace-stream-1' },
    });
    for await (const _ of stream as unknown as AsyncIterable<unknown>) void _;
    const { root, children } = await treeOf(rx, 'trace-stream-1');
    expect(root.parentSpanId).toBe('');
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.traceId).not.toBe('0'.repeat(32));
    expect(root.attributes).toMatchObject({ 'thinkgate.stream': true, 'http.response.status_code': 200, 'thinkgate.truncated': true });
    expect(root.resource['service.name']).toBe('thinkgate');
    expect(children.map((c) => c.attributes['thinkgate.segment.cause'])).toEqual(['initial', 'close']);
    const calls = upstreamCalls(s).slice(-2);
    expect(calls.map((c) => c.headers['traceparent'])).toEqual(children.map((c) => `00-${root.traceId}-${c.spanId}-01`));
    expect(rx.posts.length).toBeGreaterThan(0);
    expect(rx.posts.every((p) => p.path === '/v1/traces' && p.status === 200 && p.headers['content-type'] === contentType)).toBe(true);
    expect(rx.spans.every((sp) => sp.encoding === contentType)).toBe(true);
  });

  it('the chat first segment is the initial segment\'s span, started as its call goes out: vLLM gets its traceparent', async () => {
    const s = await sim();
    const rx = await receiver();
    const gw = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url });
    // The first request of its kind takes /tokenize and learns that the template opens thinking.
    await gw.client.chat.completions.create(ask({ max_thinking_tokens: 10 }) as never);
    await gw.client.chat.completions.create(ask({ max_thinking_tokens: 10 }) as never, { headers: { 'x-request-id': 'trace-chat-first' } });
    const { root, children } = await treeOf(rx, 'trace-chat-first');
    const chat = chatCalls(s).filter((c) => c.headers['x-request-id'] === 'trace-chat-first-1');
    expect(chat).toHaveLength(1);
    expect(children.map((c) => c.attributes['thinkgate.segment.cause'])).toEqual(['initial', 'close']);
    expect(children[0]!.name).toBe('chat sim-r1');
    expect(children[0]!.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'thinkgate.chat_first_segment': 'used', 'thinkgate.segment.index': 1 });
    expect(children[0]!.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(chat[0]!.headers['traceparent']).toBe(`00-${root.traceId}-${children[0]!.spanId}-01`);
    const [closeCall] = upstreamCalls(s).filter((c) => c.headers['x-request-id'] === 'trace-chat-first-2');
    expect(closeCall!.headers['traceparent']).toBe(`00-${root.traceId}-${children[1]!.spanId}-01`);
  });

  it('a refused chat first segment is a span of its own, marked refused with the error; the /tokenize path\'s segments follow', async () => {
    const s = await sim();
    const hostile = await startHostileUpstream();
    open.push(hostile);
    hostile.target = s.url;
    const rx = await receiver();
    const gw = await gateway([hostile.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url });
    await gw.client.chat.completions.create(ask({ max_thinking_tokens: 10 }) as never); // learns the template
    hostile.routes.set('POST /v1/chat/completions', async (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('engine dead');
    });
    await gw.client.chat.completions.create(ask({ max_thinking_tokens: 10 }) as never, { headers: { 'x-request-id': 'trace-chat-refused' } });
    const { children } = await treeOf(rx, 'trace-chat-refused');
    expect(children.map((c) => [c.name, c.attributes['thinkgate.chat_first_segment'] ?? null, c.attributes['thinkgate.segment.cause']])).toEqual([
      ['chat sim-r1', 'refused', 'initial'],
      ['text_completion sim-r1', null, 'initial'],
      ['text_completion sim-r1', null, 'close'],
    ]);
    expect(children[0]!.status.code).toBe(2); // ERROR
    expect(children.slice(1).every((c) => c.status.code !== 2)).toBe(true);
  });

  it('n = 2: the segments of each choice are children with their choice index, each upstream call carrying its own span', async () => {
    const s = await sim();
    const rx = await receiver();
    const gw = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url });
    const stream = await gw.client.chat.completions.create({ ...ask({ n: 2, min_thinking_tokens: 35, seed: 1, temperature: 1 }), stream: true } as never, {
      headers: { 'x-request-id': 'trace-n2' },
    });
    for await (const _ of stream as unknown as AsyncIterable<unknown>) void _;
    const { root, children } = await treeOf(rx, 'trace-n2');
    expect(root.attributes['thinkgate.choices']).toBe(2);
    const calls = upstreamCalls(s).filter((c) => String(c.headers['x-request-id']).startsWith('trace-n2-'));
    expect(children).toHaveLength(calls.length);
    for (const choice of [0, 1]) {
      const mine = children.filter((c) => c.attributes['thinkgate.choice'] === choice);
      expect(mine.map((c) => c.attributes['thinkgate.segment.cause']).slice(0, 2)).toEqual(['initial', 'extend']);
      for (const c of mine) {
        // The span a call carries is the one for that choice's segment (its request id says which).
        const call = calls.find((r) => r.headers['traceparent'] === `00-${root.traceId}-${c.spanId}-01`);
        expect(call?.headers['x-request-id']).toBe(`trace-n2-c${choice}-${c.attributes['thinkgate.segment.index'] as number}`);
      }
    }
  });

  it('early-exit probes are spans of their own, with their traceparent upstream', async () => {
    const s = await sim();
    const rx = await receiver();
    const gw = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url });
    const res = (await gw.client.chat.completions.create(ask({ thinking_early_exit: { probe_interval_tokens: 8, agreements: 2 } }) as never, {
      headers: { 'x-request-id': 'trace-probe-1' },
    })) as OpenAI.ChatCompletion & { budget_forcing: { early_exit?: { probes: number } } };
    const probes = res.budget_forcing.early_exit!.probes;
    expect(probes).toBeGreaterThan(0);
    const { root, children } = await treeOf(rx, 'trace-probe-1');
    const probeSpans = children.filter((c) => c.attributes['thinkgate.probe'] === true);
    expect(probeSpans).toHaveLength(probes);
    for (const p of probeSpans) {
      expect(p.name).toBe('thinkgate.probe');
      expect(p.attributes['thinkgate.segment.cause']).toBeUndefined();
    }
    const segments = children.filter((c) => c.attributes['thinkgate.probe'] === undefined);
    expect(segments.length).toBeGreaterThan(0);
    const sent = new Set(upstreamCalls(s).map((c) => c.headers['traceparent']));
    for (const c of children) expect(sent.has(`00-${root.traceId}-${c.spanId}-01`)).toBe(true);
  });

  it('a retry on another replica is an event on the request span; the failed attempt is an error span', async () => {
    const bad = await sim({ fault: 'http-500' });
    const good = await sim();
    const rx = await receiver();
    const gw = await gateway([bad.url, good.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url });
    // Least-outstanding routing may pick either first: ask until the bad one was tried.
    let id = '';
    for (let i = 0; i < 8 && upstreamCalls(bad).length === 0; i++) {
      id = `trace-retry-${i}`;
      await gw.client.chat.completions.create(ask({ max_thinking_tokens: 5 }) as never, { headers: { 'x-request-id': id } });
    }
    expect(upstreamCalls(bad).length).toBeGreaterThan(0);
    const { root, children } = await treeOf(rx, id);
    const retry = root.events.find((e) => e.name === 'thinkgate.retry');
    expect(retry?.attributes).toMatchObject({ 'thinkgate.upstream': good.url, 'thinkgate.attempt': 1 });
    expect(root.attributes['thinkgate.upstream']).toBe(good.url);
    const failed = children.filter((c) => c.attributes['thinkgate.upstream'] === bad.url);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.status.code).toBe(2); // ERROR
    expect(children.filter((c) => c.attributes['thinkgate.upstream'] === good.url).every((c) => c.status.code !== 2)).toBe(true);
    expect(root.status.code).not.toBe(2);
  });

  it('a 5xx request span has error status; a client error does not', async () => {
    const s = await sim({ fault: 'http-500' });
    const rx = await receiver();
    const gw = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url }, { routing: { retries: 0 } });
    await expect(gw.client.chat.completions.create(ask() as never, { headers: { 'x-request-id': 'trace-500' } })).rejects.toThrow();
    await expect(
      gw.client.chat.completions.create(ask({ max_thinking_tokens: -1 }) as never, { headers: { 'x-request-id': 'trace-400' } }),
    ).rejects.toThrow();
    const { root } = await treeOf(rx, 'trace-500');
    expect(root.attributes['http.response.status_code']).toBeGreaterThanOrEqual(500);
    expect(root.status.code).toBe(2);
    // A 400 is refused before the request's runs: no span (only requests that reach serving are traced).
    await gw.app.close();
    expect(rx.spans.some((sp) => sp.attributes['thinkgate.request_id'] === 'trace-400')).toBe(false);
  });

  it('OTEL_TRACES_SAMPLER=always_off: nothing exported, but the client traceparent still reaches vLLM unsampled', async () => {
    const s = await sim();
    const rx = await receiver();
    const gw = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_TRACES_SAMPLER: 'always_off' });
    await gw.client.chat.completions.create(ask({ max_thinking_tokens: 5 }) as never, { headers: { traceparent: CLIENT_TRACEPARENT } });
    await gw.app.close();
    expect(rx.spans).toHaveLength(0);
    // A non-recording span keeps the trace id; the flag says "not sampled" so vLLM does not trace either.
    for (const c of upstreamCalls(s)) expect(c.headers['traceparent']).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
  });
});

describe('tracing on: the encoding', () => {
  it('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins over OTEL_EXPORTER_OTLP_PROTOCOL, either way round', async () => {
    const s = await sim();
    for (const [general, traces, expected] of [
      ['http/json', 'http/protobuf', 'application/x-protobuf'],
      ['http/protobuf', 'http/json', 'application/json'],
    ] as const) {
      const rx = await receiver();
      const gw = await gatewayWith([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: general, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: traces });
      await gw.client.chat.completions.create(ask({ max_thinking_tokens: 5 }) as never, { headers: { 'x-request-id': `trace-proto-${traces.slice(5)}` } });
      await gw.app.close();
      expect(rx.spans.some((sp) => sp.attributes['thinkgate.request_id'] === `trace-proto-${traces.slice(5)}`)).toBe(true);
      expect(rx.posts.map((p) => p.headers['content-type'])).toEqual(rx.posts.map(() => expected));
    }
  });
});

describe('tracing on, the collector down', () => {
  it('requests are served and the app closes cleanly: the spans are lost, nothing fails', async () => {
    const s = await sim();
    const rx = await receiver();
    const dead = rx.url;
    await rx.close();
    open.splice(open.indexOf(rx), 1);
    const gw = await gatewayWith([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: dead, OTEL_EXPORTER_OTLP_TIMEOUT: '1000' });
    const res = await gw.client.chat.completions.create(ask({ max_thinking_tokens: 5 }) as never);
    expect((res as OpenAI.ChatCompletion).choices[0]!.message.content).toBeTruthy();
    // Closed at once: the request's spans are still queued, and the flush on close fails.
    await expect(gw.app.close()).resolves.toBeUndefined();
  });
});

describe('tracing off', () => {
  const gateway = gatewayWith;
  it('by default: no exporter traffic, no traceparent invented upstream', async () => {
    const s = await sim();
    const rx = await receiver();
    const gw = await gateway([s.url], {});
    expect(gw.app.thinkgate.tracing.enabled).toBe(false);
    await gw.client.chat.completions.create(ask({ max_thinking_tokens: 5 }) as never);
    await gw.client.chat.completions.create(ask({ max_thinking_tokens: 5 }) as never); // through the chat first segment
    await gw.app.close();
    expect(rx.posts).toHaveLength(0);
    expect(chatCalls(s)).toHaveLength(1);
    const calls = [...upstreamCalls(s), ...chatCalls(s)];
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect(c.headers['traceparent']).toBeUndefined();
  });

  it('tracing.enabled: false and OTEL_SDK_DISABLED win over an endpoint: nothing is exported', async () => {
    const s = await sim();
    const rx = await receiver();
    const a = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url }, { tracing: { enabled: false } });
    const b = await gateway([s.url], { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SDK_DISABLED: 'true' });
    for (const gw of [a, b]) {
      // Off is untouched: not even the client's own traceparent is passed on.
      await gw.client.chat.completions.create(ask({ max_thinking_tokens: 5 }) as never, { headers: { traceparent: CLIENT_TRACEPARENT } });
      await gw.app.close();
    }
    expect(rx.posts).toHaveLength(0);
    for (const c of upstreamCalls(s)) expect(c.headers['traceparent']).toBeUndefined();
  });
});
