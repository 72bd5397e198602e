/**
 * Upstream faults (issue 4, "Faults (each tested)"): for every way a vLLM replica fails, in
 * stream and non-stream mode, the client gets a complete answer or an OpenAI error: an HTTP
 * status with the envelope before the first byte, or exactly one `data: {"error": ...}` event
 * after it and then the end of the stream without `[DONE]` (docs/api.md). Never a silent EOF, never
 * a hang: every call runs under short gateway timeouts and a client deadline, and afterwards
 * the simulator must have no generation left running (the gateway closed the upstream call).
 *
 * The stream opens only at the first token, so a fault before it (in segment 1) is an HTTP
 * status even for `stream: true`; a fault in a later segment (sim `faultSkip`) or after the
 * first tokens comes after the first byte and is an SSE error event.
 * Status mapping: src/backends/upstream-errors.ts and src/backends/vllm/client.ts.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultMode } from '../../src/sim/faults.js';
import { segmentRequests, startStack, until, type Stack } from '../support/stack.js';

/** Short upstream timeouts so that stalls end quickly; the client deadline is far beyond them. */
// request_ms bounds /tokenize: the /tokenize stall case waits it out, every other case must
// never reach it on a loaded CI machine (at 400 ms a slow /tokenize once turned an http-500
// case into a 504).
const TIMEOUTS = { connect_ms: 500, first_token_ms: 300, idle_ms: 300, request_ms: 2000 };
const CLIENT_DEADLINE_MS = 5000;

let stack: Stack;
let faultsInjected = 0;
beforeAll(async () => {
  // Frequent health probes: a replica that a fault took out of rotation (a refused connection
  // marks it unhealthy at once) is back for the next test within tens of milliseconds.
  // A probe timeout far above any loaded-machine latency: a probe that timed out once turned a
  // `refuse` case into 503 "no healthy upstream".
  stack = await startStack({ config: { timeouts: TIMEOUTS, health: { interval_ms: 50, timeout_ms: 4000 } } });
});
afterEach(async () => {
  stack.sim.setOptions({ fault: 'none', faultAfter: 5, faultSkip: 0, faultTokenize: false, tokenDelayMs: 0, firstTokenDelayMs: 0 });
  // Whatever the fault, the gateway must not leave an upstream generation running.
  await until(() => stack.sim.stats().running === 0, 1000, 'the upstream generation to end');
  await untilReady(stack.url);
});
afterAll(async () => {
  await stack.close();
  console.log(`[faults] ${faultsInjected} faulted gateway calls`);
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Outcome {
  status: number;
  contentType: string;
  headers: Headers;
  text: string;
  ms: number;
}

/**
 * The template fields of the requests (chat mode: a kind of its own per test, learned before it,
 * so that one test's refused chat call does not send the next tests to /tokenize: runs/chat-first-segment.ts).
 */
let kind: Json = {};
const request = (extra: Json = {}) => ({
  model: 'sim-r1',
  messages: [{ role: 'user', content: 'What is 6 x 7?' }],
  ...kind,
  ...extra,
});

async function call(stream: boolean, extra: Json = {}, url = stack.url): Promise<Outcome> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request({ ...extra, stream })),
    // A hang fails the test with a TimeoutError instead of stalling the suite.
    signal: AbortSignal.timeout(CLIENT_DEADLINE_MS),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', headers: res.headers, text, ms: performance.now() - t0 };
}

interface ErrorShape {
  status: number;
  type: string;
  code: string;
  message?: RegExp;
}
/** One shape, or several the gateway may legitimately choose between (see MAPPED.refuse). */
type Want = ErrorShape | readonly ErrorShape[];

function pick(want: Want, status: number): ErrorShape {
  if (!Array.isArray(want)) return want as ErrorShape;
  const list = want as readonly ErrorShape[];
  return list.find((w) => w.status === status) ?? list[0]!;
}

/** Before the first byte: the status and the OpenAI envelope, as JSON. */
function expectHttpError(o: Outcome, wanted: Want): void {
  const want = pick(wanted, o.status);
  expect(o.status, o.text).toBe(want.status);
  expect(o.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(o.text) as Json;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject({ type: want.type, code: want.code });
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.message).toEqual(expect.any(String));
  if (want.message) expect(body.error.message).toMatch(want.message);
  if (want.status === 503) expect(o.headers.get('retry-after')).toBe('1');
}

/** The stream's events: every block is one `data:` line or a `:` comment; comments dropped. */
function sseData(text: string): string[] {
  expect(text.endsWith('\n\n'), 'the stream ends at an event boundary').toBe(true);
  const blocks = text.split('\n\n').filter((b) => b.length > 0);
  for (const b of blocks) expect(b, 'one data line per event, no named events').toMatch(/^(data: [^\n]*|:[^\n]*)$/);
  return blocks.filter((b) => b.startsWith('data: ')).map((b) => b.slice('data: '.length));
}

/** After the first byte: chunks, then exactly one error event, then the end (no [DONE]). */
function expectSseError(o: Outcome, wanted: Want): Json[] {
  expect(o.status, o.text).toBe(200);
  expect(o.contentType).toMatch(/^text\/event-stream/);
  const data = sseData(o.text);
  expect(data).not.toContain('[DONE]');
  const errors = data.filter((d) => d.startsWith('{"error"'));
  expect(errors).toHaveLength(1);
  expect(data.at(-1)).toBe(errors[0]);
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Json);
  expect(chunks.length).toBeGreaterThan(0);
  for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
  const body = JSON.parse(errors[0]!) as Json;
  const want = Array.isArray(wanted) ? ((wanted as readonly ErrorShape[]).find((w) => w.type === body.error.type) ?? (wanted as readonly ErrorShape[])[0]!) : (wanted as ErrorShape);
  expect(body.error).toMatchObject({ type: want.type, code: want.code });
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  if (want.message) expect(body.error.message).toMatch(want.message);
  return chunks;
}

function expectComplete(o: Outcome, stream: boolean): void {
  expect(o.status, o.text).toBe(200);
  if (!stream) {
    const body = JSON.parse(o.text) as Json;
    expect(body.choices[0].finish_reason).toBe('stop');
    expect(body.choices[0].message.content).toContain('42');
    return;
  }
  const data = sseData(o.text);
  expect(data.at(-1)).toBe('[DONE]');
  expect(data.some((d) => d.startsWith('{"error"'))).toBe(false);
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Json);
  expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toContain('42');
}

const BAD_GATEWAY = { status: 502, type: 'upstream_error', code: 'upstream_error' };
const UNREACHABLE = { status: 502, type: 'upstream_error', code: 'upstream_unreachable' };
const BROKEN = { status: 502, type: 'upstream_error', code: 'upstream_request_failed' };
const UNAVAILABLE = { status: 503, type: 'server_error', code: 'service_unavailable' };
const TIMEOUT = { status: 504, type: 'timeout_error', code: 'upstream_timeout' };

/** What each fault maps to (src/backends/upstream-errors.ts, src/backends/vllm/client.ts). */
const MAPPED: Record<Exclude<FaultMode, 'none' | 'slow'>, Want> = {
  // The simulator accepts, then destroys the socket: a broken connection, not a missing server
  // (that one, ECONNREFUSED, is the "stops listening" case below: upstream_unreachable).
  // Before the first token it destroys the health probes' new connections too; that case runs
  // on a stack without background probes (see quietStack), else a probe that landed first
  // would take the only replica out (503, about one run in ten on a loaded machine).
  refuse: BROKEN,
  'http-500': { ...BAD_GATEWAY, message: /HTTP 500/ },
  'http-503': UNAVAILABLE,
  'stall-before-first-token': { ...TIMEOUT, message: /first token/ },
  'stall-mid-stream': TIMEOUT,
  'close-mid-stream': { ...BAD_GATEWAY, message: /closed the stream early/ },
  'malformed-sse': { ...BAD_GATEWAY, message: /malformed JSON/ },
  'malformed-json': { ...BAD_GATEWAY, message: /unexpected stream chunk/ },
  'broken-sse': { ...BAD_GATEWAY, message: /closed the stream early|without a finish_reason/ },
  // vLLM's own error event, followed by [DONE]: an error all the same, never a short answer.
  // A stable message: the upstream's own text never reaches the client (it is debug-logged).
  'error-event': { ...BAD_GATEWAY, message: /^vLLM failed during generation\.$/ },
  'no-token-ids': { ...BAD_GATEWAY, message: /token_ids/ },
};
/** Mid-stream faults at K = 0 strike before the first token; the stall then is a first-token stall. */
const AT_FIRST_TOKEN: Partial<Record<FaultMode, Want>> = { 'stall-mid-stream': { ...TIMEOUT, message: /first token/ } };
const ALL_FAULTS = Object.keys(MAPPED) as Array<keyof typeof MAPPED>;
const MID_STREAM = ['stall-mid-stream', 'close-mid-stream', 'malformed-sse', 'malformed-json', 'broken-sse', 'error-event'] as const;
const MODES = [false, true] as const;

// The whole matrix runs on both first-segment paths (docs/upstream-protocol.md): through vLLM's
// chat endpoint (once the template is learned) and through /tokenize.
describe.each(['chat', 'tokenize'] as const)('first segment: %s', (firstSegment) => {
  let saved: Stack;
  beforeAll(async () => {
    saved = stack;
    stack = await startStack({ config: { timeouts: TIMEOUTS, health: { interval_ms: 50, timeout_ms: 4000 }, routing: { first_segment: firstSegment } } });
    // The first request of its kind takes the /tokenize path and learns the template.
    expectComplete(await call(false), false);
    if (firstSegment === 'chat') {
      stack.sim.reset();
      expectComplete(await call(false), false);
      expect(stack.sim.stats().lastRequests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
    }
  });
  afterAll(async () => {
    await stack.close();
    stack = saved;
    kind = {};
  });
  if (firstSegment === 'chat') {
    let kinds = 0;
    beforeEach(async () => {
      kind = { chat_template_kwargs: { faults_case: kinds++ } };
      expectComplete(await call(false), false); // through /tokenize: the template is learned
      stack.sim.reset();
    });
    afterEach(({ task }) => {
      // Each case met the chat endpoint first (the 'refuse' case runs on a stack of its own).
      if (!task.name.startsWith('refuse')) expect(stack.sim.stats().lastRequests[0]?.path).toBe('/v1/chat/completions');
    });
  }

  describe.each(MODES)('stream: %s', (stream) => {
    describe('a fault before the first token: an HTTP status, also for streams', () => {
      it.each(ALL_FAULTS)('%s', async (fault) => {
        const s = fault === 'refuse' ? await quietStack() : stack;
        s.sim.setOptions({ fault, faultAfter: 0 });
        faultsInjected++;
        const o = await call(stream, {}, s.url).finally(() => (s === stack ? undefined : s.close()));
        expectHttpError(o, AT_FIRST_TOKEN[fault] ?? MAPPED[fault]);
        if (fault.startsWith('stall')) {
          // Ended by the first-token timeout, not by a hang that something else broke.
          // (A retry before the first byte may wait out the timeout again: bounded all the same.)
          expect(o.ms).toBeGreaterThanOrEqual(TIMEOUTS.first_token_ms - 20);
          expect(o.ms).toBeLessThan(CLIENT_DEADLINE_MS - 1000);
        }
      });

      // The chat path does not call /tokenize once the template is learned.
      if (firstSegment === 'tokenize') {
        it.each(['http-500', 'http-503', 'malformed-json', 'stall-before-first-token'] as const)('%s from /tokenize (the chat template call)', async (fault) => {
          stack.sim.setOptions({ fault, faultTokenize: true });
          stack.sim.reset();
          faultsInjected++;
          const o = await call(stream);
          const want =
            fault === 'malformed-json'
              ? { ...BAD_GATEWAY, message: /malformed JSON/ }
              : fault === 'stall-before-first-token'
                ? { ...TIMEOUT, message: /request timeout/ }
                : MAPPED[fault];
          expectHttpError(o, want);
          expect(stack.sim.stats().lastRequests.some((r) => r.path === '/v1/completions')).toBe(false);
          stack.sim.reset();
        });
      }
    });

    describe('a fault after 5 thinking tokens', () => {
      it.each(MID_STREAM)('%s', async (fault) => {
        stack.sim.setOptions({ fault, faultAfter: 5 });
        faultsInjected++;
        const o = await call(stream);
        if (!stream) return expectHttpError(o, MAPPED[fault]);
        const chunks = expectSseError(o, MAPPED[fault]);
        // What did reach the client is the reasoning of those tokens, and no answer.
        const deltas = chunks.map((c) => c.choices[0]?.delta ?? {});
        expect(deltas.map((d) => d.reasoning_content ?? '').join('')).not.toBe('');
        expect(deltas.every((d) => !d.content)).toBe(true);
        if (fault === 'stall-mid-stream') expect(o.ms).toBeGreaterThanOrEqual(TIMEOUTS.idle_ms - 20);
      });
    });

    describe('a fault in the second segment (the answer, after a truncation)', () => {
      it.each(ALL_FAULTS)('%s', async (fault) => {
        // Segment 1 thinks 3 tokens and is served normally; segment 2 is the faulted call.
        stack.sim.setOptions({ fault, faultAfter: 0, faultSkip: 1 });
        faultsInjected++;
        const o = await call(stream, { max_thinking_tokens: 3 });
        expect(segmentRequests(stack.sim).length).toBeGreaterThanOrEqual(2);
        const want = AT_FIRST_TOKEN[fault] ?? MAPPED[fault];
        if (!stream) return expectHttpError(o, want);
        const chunks = expectSseError(o, want);
        expect(chunks.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('')).not.toBe('');
      });
    });

    describe('slow but alive: a complete answer', () => {
      it('a token gap under idle_ms, for longer than idle_ms in total', async () => {
        // 30 thinking + 15 answer tokens, 25 ms apart: > 1 s in all, never 300 ms silent.
        stack.sim.setOptions({ fault: 'slow', slowDelayMs: 25 });
        const o = await call(stream);
        expectComplete(o, stream);
        expect(o.ms).toBeGreaterThan(TIMEOUTS.idle_ms * 2);
      });

      it('a first token just under first_token_ms, in every segment', async () => {
        stack.sim.setOptions({ firstTokenDelayMs: TIMEOUTS.first_token_ms - 150 });
        const o = await call(stream, { max_thinking_tokens: 4 });
        expectComplete(o, stream);
      });
    });
  });
});

describe('connection refused', () => {
  it('a replica whose port is closed: 503 once its health check failed (both modes)', async () => {
    const port = await closedPort();
    const s = await startStack({ config: { timeouts: TIMEOUTS, upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
    try {
      // The first health check runs at start; /ready turns 503 when it has failed.
      await until(async () => (await fetch(`${s.url}/ready`)).status === 503, 2000, '/ready to report the dead replica');
      for (const stream of MODES) {
        faultsInjected++;
        expectHttpError(await call(stream, {}, s.url), UNAVAILABLE);
      }
    } finally {
      await s.close();
    }
  });

  it('a replica that stops listening after its health check passed: 502 upstream_unreachable (both modes)', async () => {
    const s = await startStack({ config: { timeouts: TIMEOUTS, health: { interval_ms: 60_000 } } });
    try {
      expect((await fetch(`${s.url}/ready`)).status).toBe(200);
      await s.sim.close(); // its port is closed now; the pool still counts it healthy
      for (const stream of MODES) {
        faultsInjected++;
        const o = await call(stream, {}, s.url);
        // The first call finds it refused (502, or 503 once passive health took it out).
        expectHttpError(o, [{ ...UNREACHABLE, message: /ECONNREFUSED/ }, UNAVAILABLE]);
        expect(o.ms).toBeLessThan(1000);
      }
    } finally {
      await s.app.close();
    }
  });
});

describe('simulator fault modes this file relies on', () => {
  it('malformed-json: a well-formed event that is not a chunk; broken-sse: no [DONE]; error-event: vLLM\'s error event, then [DONE]', async () => {
    const body = { model: 'sim-r1', prompt: [1, 2, 3], max_tokens: 8, stream: true, return_token_ids: true };
    const post = (fault: string) =>
      fetch(`${stack.sim.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sim-fault': fault, 'x-sim-fault-after': '2' },
        body: JSON.stringify(body),
      }).then((r) => r.text());
    const bad = (await post('malformed-json')).split('\n\n').filter(Boolean);
    expect(bad).toHaveLength(2 + 1 + 6 + 1); // 2 tokens, the bad event, 6 tokens, [DONE]
    expect(Array.isArray((JSON.parse(bad[2]!.slice(6)) as Json).choices)).toBe(false);
    const broken = await post('broken-sse');
    expect(broken).toContain('<html>');
    expect(broken).not.toContain('[DONE]');
    const failed = (await post('error-event')).split('\n\n').filter(Boolean);
    expect(failed.slice(-2)[0]).toMatch(/^data: \{"object":"error","message":"Simulated engine failure/);
    expect(failed.at(-1)).toBe('data: [DONE]');
  });

  it('faultSkip serves the first N completions normally', async () => {
    stack.sim.setOptions({ fault: 'http-500', faultSkip: 2 });
    const body = JSON.stringify({ model: 'sim-r1', prompt: [1, 2, 3], max_tokens: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${stack.sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await r.text();
      statuses.push(r.status);
    }
    expect(statuses).toEqual([200, 200, 500, 500]);
  });
});

/**
 * A stack whose only health probe runs at start, before any fault is set: in 'refuse' mode the
 * request, not a background probe, is the first to meet a destroyed connection.
 */
async function quietStack(): Promise<Stack> {
  return startStack({ config: { timeouts: TIMEOUTS, health: { interval_ms: 60_000, timeout_ms: 4000 } } });
}

async function untilReady(url: string): Promise<void> {
  await until(async () => (await fetch(`${url}/ready`)).status === 200, 2000, 'the gateway to become ready again');
}

/** A port nothing listens on (bound, then released; racy in theory, never in practice on loopback). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
