/**
 * Client disconnects in every phase the gateway owns (issue 4; "queued" belongs to the
 * limiter's tests): waiting for the first token, thinking, between segments, answer; stream
 * and non-stream. For each: the simulator's running count returns to 0 and its `aborted`
 * counter moves within 100 ms of the client's close (measured, reported), the disconnect is
 * counted in thinkgate_client_disconnects_total{phase}, and after a batch nothing is left
 * behind in this process (gateway and simulator both live in it): no timers, sockets or
 * server connections beyond the upstream keep-alive pool.
 *
 * The client is node:http with its own socket per request (agent: false), so "disconnect"
 * is exactly one socket close, as a browser tab or a killed script does it.
 */
import { createHook } from 'node:async_hooks';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimOptions } from '../../src/sim/server.js';
import { startStack, until, type Stack } from '../support/stack.js';

/** Spec of issue 4: the upstream request is aborted within 100 ms of the client's close. */
const ABORT_WITHIN_MS = 100;
/**
 * Each phase is disconnected this many times; the median must be within ABORT_WITHIN_MS and
 * every one within NEVER_SLOWER_MS. On a loaded 2-core CI machine one close in three can be
 * scheduled late; a gateway that missed the close would keep the upstream running for the
 * rest of the generation (a second and more here), which both bounds catch.
 */
const REPEATS = 3;
const NEVER_SLOWER_MS = 500;

/**
 * Live timers by creation site. process.getActiveResourcesInfo() says only "Timeout", and the
 * test runner keeps timers of its own (vitest batches task updates on a 100 ms timer), so
 * timers are told apart by where they were created: an async hook sees every one.
 */
const timers = new Map<number, { timer: NodeJS.Timeout; site: string }>();
createHook({
  init(id, type, _trigger, resource) {
    if (type !== 'Timeout') return;
    const site = new Error().stack?.split('\n').slice(3).join('\n') ?? '';
    if (site.includes('/node_modules/@vitest/') || site.includes('/node_modules/vitest/')) return;
    timers.set(id, { timer: resource as NodeJS.Timeout, site });
  },
  destroy(id) {
    timers.delete(id);
  },
}).enable();

/** Timers that keep the process alive and were not made by the test runner. */
function liveTimers(): string[] {
  return [...timers.values()].filter((t) => t.timer.hasRef()).map((t) => t.site);
}

/** Node warns when listeners pile up on one emitter or signal (a listener left behind per request). */
const warnings: string[] = [];
const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
process.on('warning', onWarning);

let stack: Stack;
const latencies: Record<string, number[]> = {};
let baseline: { resources: Record<string, number>; timers: number; simSockets: number; connections: number };
beforeAll(async () => {
  stack = await startStack({ config: { timeouts: { first_token_ms: 10_000, idle_ms: 10_000 } } });
  // Warm up: complete requests of both kinds, so that JIT, the upstream keep-alive pool and
  // lazily created timers (undici's, prom-client's) exist before the baseline is taken.
  for (const stream of [false, true]) {
    await (await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], stream }),
    })).text();
  }
  await scrape();
  await settle();
  baseline = { resources: resources(), timers: liveTimers().length, simSockets: stack.sim.stats().openSockets, connections: await gatewayConnections() };
});
afterAll(async () => {
  process.off('warning', onWarning);
  await stack.close();
  const rows = Object.entries(latencies).map(([k, v]) => `${k}: ${v.map((x) => x.toFixed(1)).join(', ')} ms`);
  console.log(`[disconnects] upstream abort latency after the client's close\n  ${rows.join('\n  ')}`);
});

type Phase = 'first_token' | 'thinking' | 'between_segments' | 'answer';

interface Open {
  req: ClientRequest;
  /** Resolves with the response head (stream: the first token opened the stream). */
  response: Promise<IncomingMessage>;
  /** Everything received so far. */
  text(): string;
}

function open(stream: boolean, extra: Record<string, unknown> = {}): Open {
  const body = JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'What is 6 x 7?' }], stream, ...extra });
  const url = new URL(`${stack.url}/v1/chat/completions`);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  let received = '';
  const response = new Promise<IncomingMessage>((resolve) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (received += d));
      res.on('error', () => undefined); // the close below is ours
      resolve(res);
    });
  });
  req.on('error', () => undefined); // ECONNRESET from our own destroy()
  req.end(body);
  return { req, response, text: () => received };
}

/** Closes the client's socket; returns ms until the simulator saw the upstream request end. */
async function disconnectAndMeasure(o: Open, abortedBefore: number): Promise<number> {
  const t0 = performance.now();
  o.req.destroy();
  const deadline = t0 + 2000;
  for (;;) {
    const s = stack.sim.stats();
    if (s.running === 0 && s.aborted === abortedBefore + 1) return performance.now() - t0;
    if (performance.now() > deadline) throw new Error(`upstream not aborted: ${JSON.stringify({ running: s.running, aborted: s.aborted - abortedBefore })}`);
    await tick();
  }
}

const reasoningChunks = (text: string) => (text.match(/"reasoning_content":"/g) ?? []).length;
const contentChunks = (text: string) => (text.match(/"content":"[^"]/g) ?? []).length;

interface Case {
  phase: Phase;
  sim: Partial<SimOptions>;
  extra?: Record<string, unknown>;
  /** Holds when the request is in this phase; checked by polling. */
  ready(o: Open, stream: boolean): boolean;
}

const CASES: Case[] = [
  {
    phase: 'first_token',
    // Prefill takes a second: the gateway waits for the first token; nothing was sent yet.
    sim: { firstTokenDelayMs: 1000 },
    ready: () => stack.sim.stats().running === 1,
  },
  {
    phase: 'thinking',
    sim: { tokenDelayMs: 20 },
    ready: (o, stream) => (stream ? reasoningChunks(o.text()) >= 3 : stack.sim.stats().liveGenerationTokens >= 3),
  },
  {
    phase: 'between_segments',
    // Thinking truncated at 3 tokens; the answer segment then waits 500 ms for its first
    // token: a wide window after the truncation, while the next segment is being set up.
    sim: { firstTokenDelayMs: 500 },
    extra: { max_thinking_tokens: 3 },
    ready: (o, stream) => stack.sim.stats().total === 2 && stack.sim.stats().running === 1 && (!stream || reasoningChunks(o.text()) >= 1),
  },
  {
    phase: 'answer',
    sim: { tokenDelayMs: 20 },
    extra: { max_thinking_tokens: 3 },
    ready: (o, stream) => (stream ? contentChunks(o.text()) >= 2 : stack.sim.stats().total === 2 && stack.sim.stats().liveGenerationTokens >= 3 + 4 + 2),
  },
];

async function runCase(c: Case, stream: boolean): Promise<number> {
  stack.sim.setOptions({ tokenDelayMs: 0, firstTokenDelayMs: 0, ...c.sim });
  stack.sim.reset();
  const before = stack.sim.stats().aborted;
  const o = open(stream, c.extra);
  await until(() => c.ready(o, stream), 3000, `phase ${c.phase}`);
  if (c.phase === 'first_token' && stream) expect(o.text()).toBe(''); // the stream opens at the first token
  const ms = await disconnectAndMeasure(o, before);
  (latencies[`${c.phase} stream=${stream}`] ??= []).push(ms);
  return ms;
}

async function scrape(): Promise<string> {
  return (await fetch(`${stack.url}/metrics`)).text();
}

/** The value of the one series of `name` whose labels include every fragment (0 if none). */
function sample(text: string, name: string, ...labels: string[]): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && labels.every((f) => l.includes(f)));
  expect(lines.length).toBeLessThanOrEqual(1);
  return lines.length === 0 ? 0 : Number(lines[0]!.split(' ').at(-1));
}

function sampleBare(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ').at(-1));
}

/** Counts of the handles that would betray a leak: sockets and servers (timers: liveTimers). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) {
    if (r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Immediate') counts[r] = (counts[r] ?? 0) + 1;
  }
  return counts;
}

async function gatewayConnections(): Promise<number> {
  return new Promise((resolve, reject) => stack.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

describe.each([false, true])('stream: %s', (stream) => {
  it.each(CASES)('disconnect in phase $phase: the upstream is aborted within 100 ms, counted once', async (c) => {
    const m0 = await scrape();
    const ms: number[] = [];
    for (let i = 0; i < REPEATS; i++) ms.push(await runCase(c, stream));
    ms.sort((x, y) => x - y);
    expect(ms[Math.floor(REPEATS / 2)], `latencies ${ms.join(', ')}`).toBeLessThan(ABORT_WITHIN_MS);
    expect(ms.at(-1), `latencies ${ms.join(', ')}`).toBeLessThan(NEVER_SLOWER_MS);
    // The route's `finally` (metrics) runs after the close: wait for the gauge to come back.
    let m1 = await scrape();
    for (let i = 0; i < 100 && sampleBare(m1, 'thinkgate_inflight_requests') !== 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
      m1 = await scrape();
    }
    expect(sampleBare(m1, 'thinkgate_inflight_requests')).toBe(0);
    const metric = 'thinkgate_client_disconnects_total';
    const delta = (phase: string) => sample(m1, metric, `phase="${phase}"`) - sample(m0, metric, `phase="${phase}"`);
    expect(delta(c.phase)).toBe(REPEATS);
    for (const other of ['queued', 'first_token', 'thinking', 'between_segments', 'answer'].filter((p) => p !== c.phase)) {
      expect(delta(other), other).toBe(0);
    }
    const closed = (m: string) => sample(m, 'thinkgate_requests_total', 'code="499"', `stream="${stream}"`);
    expect(closed(m1) - closed(m0)).toBe(REPEATS);
  });
});

describe('nothing is left behind', () => {
  it('after all those disconnects: no timer, socket or connection more than before', async () => {
    await settle();
    const after = resources();
    const simSockets = stack.sim.stats().openSockets;
    const connections = await gatewayConnections();
    const n = Object.values(latencies).reduce((a, v) => a + v.length, 0);
    expect(n).toBe(2 * CASES.length * REPEATS); // this runs last, after every disconnect above
    console.log(
      `[disconnects] ${n} disconnects; resources before ${JSON.stringify(baseline.resources)} after ${JSON.stringify(after)}; ` +
        `timers ${baseline.timers} -> ${liveTimers().length}; simulator sockets ${baseline.simSockets} -> ${simSockets}`,
    );
    expect(stack.sim.stats().running).toBe(0);
    expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
    expect(connections).toBe(baseline.connections);
    // Each idle keep-alive connection to the simulator is two sockets in this process (the
    // gateway's end and the simulator's end); the pool may hold one or two more than before.
    const poolGrowth = Math.max(0, simSockets - baseline.simSockets);
    expect(poolGrowth).toBeLessThanOrEqual(2);
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual((baseline.resources.TCPSocketWrap ?? 0) + 2 * poolGrowth);
    if ((after.Timeout ?? 0) > (baseline.resources.Timeout ?? 0)) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const handles = (process as any)._getActiveHandles() as any[];
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      console.log(handles.map((h: any) => h.constructor?.name + ' ' + String(h._onTimeout ?? '').slice(0, 300)));
    }
    const left = liveTimers();
    expect(left.length, `timers left:\n${left.join('\n---\n')}`).toBeLessThanOrEqual(baseline.timers);
    expect(after.TCPServerWrap).toBe(baseline.resources.TCPServerWrap);
  });
});

/** Lets closes and their callbacks run out. */
async function settle(): Promise<void> {
  await until(() => stack.sim.stats().running === 0, 2000, 'no running generation');
  await new Promise((r) => setTimeout(r, 50));
}
