/**
 * Client disconnects in every phase the gateway owns (issue 4; "queued" belongs to the
 * limiter's tests): waiting for the first token, thinking, between segments, answer; stream
 * and non-stream. For each: the simulator's running count returns to 0 and its `aborted`
 * counter moves promptly after the client's close (the spec says within 100 ms: asserted in
 * event-loop turns, milliseconds measured and reported), the disconnect is
 * counted in thinkgate_client_disconnects_total{phase}, and after a batch nothing is left
 * behind in this process (gateway and simulator both live in it): no timers, sockets or
 * server connections beyond the upstream keep-alive pool.
 *
 * The client is node:http with its own socket per request (agent: false), so "disconnect"
 * is exactly one socket close, as a browser tab or a killed script does it.
 */
import { createHook } from 'node:async_hooks';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimOptions } from '../../src/sim/server.js';
import { startStack, type Stack } from '../support/stack.js';
import { turnsUntil, until } from '../support/wait.js';

/**
 * Spec of issue 4: the upstream request is aborted within 100 ms of the client's close. On an
 * idle machine that is a few milliseconds; on a loaded one a wall-clock bound flakes (the
 * first-token case did, median of three over 100 ms). What the spec wants is that the close itself
 * ends the upstream call: a chain of socket events (client close -> route -> engine -> undici
 * -> simulator), no timer and no end of generation in between. Such a chain takes the same few
 * event-loop turns however loaded the machine is (3 here, at 1 ms or at 50 ms), so that is what
 * is bounded. A gateway that missed the close would leave the upstream running until a timer
 * fires (the simulator's next token or its 1 s prefill, a timeout): even a 5 ms timer in the
 * chain shows as 200-1400 turns of the polling below (tried), far beyond the bound. The
 * milliseconds are still measured and reported.
 */
const ABORT_WITHIN_TURNS = 50;
/** Each phase is disconnected this many times. */
const REPEATS = 3;

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
const turnCounts: Record<string, number[]> = {};
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
  const rows = Object.entries(latencies).map(([k, v]) => `${k}: ${v.map((x) => x.toFixed(1)).join(', ')} ms (${turnCounts[k]?.join(', ')} turns)`);
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

/**
 * Closes the client's socket; returns the event-loop turns and the ms until the simulator saw
 * the upstream request end (aborted, not completed).
 */
async function disconnectAndMeasure(o: Open, abortedBefore: number): Promise<{ turns: number; ms: number }> {
  const t0 = performance.now();
  o.req.destroy();
  const aborted = (): boolean => {
    const s = stack.sim.stats();
    return s.running === 0 && s.aborted === abortedBefore + 1;
  };
  const turns = await turnsUntil(aborted, 2000, 'the upstream abort');
  return { turns, ms: performance.now() - t0 };
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
  const { turns, ms } = await disconnectAndMeasure(o, before);
  (latencies[`${c.phase} stream=${stream}`] ??= []).push(ms);
  (turnCounts[`${c.phase} stream=${stream}`] ??= []).push(turns);
  return turns;
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
  it.each(CASES)('disconnect in phase $phase: the upstream is aborted promptly (within 100 ms), counted once', async (c) => {
    const m0 = await scrape();
    const turns: number[] = [];
    for (let i = 0; i < REPEATS; i++) turns.push(await runCase(c, stream));
    // Every close, not a median: counting turns has no scheduling noise to forgive.
    for (const t of turns) expect(t, `event-loop turns ${turns.join(', ')}`).toBeLessThanOrEqual(ABORT_WITHIN_TURNS);
    // The route's `finally` (metrics) runs after the close: wait for the gauge to come back.
    let m1 = '';
    await until(async () => sampleBare((m1 = await scrape()), 'thinkgate_inflight_requests') === 0, 2000, 'thinkgate_inflight_requests 0');
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
    // Socket closes still in flight on a loaded machine are not leaks: give them until the
    // sockets are back to the baseline (2 s at most). A leaked socket never closes by itself; the
    // checks below then say what is left. Timers are not a condition of the wait: a leaked
    // short timer would go away by itself while we waited for it.
    const back = async (): Promise<boolean> =>
      (await gatewayConnections()) === baseline.connections &&
      stack.sim.stats().openSockets <= baseline.simSockets + 2 &&
      (resources().TCPSocketWrap ?? 0) <= (baseline.resources.TCPSocketWrap ?? 0) + 4;
    await until(back, 2000, 'the baseline').catch(() => undefined);
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
