/**
 * A client that goes away from /v1/responses mid-generation closes the upstream, as on chat
 * (test/integration/disconnects.test.ts has every phase for chat; the lifecycle is the same one,
 * serving/serve-runs.ts): while thinking and while answering, stream and non-stream. The abort is
 * bounded in event-loop turns after the client's close (a chain of socket events, no timer in
 * between), the disconnect is counted once in its phase, and nothing stays in flight.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';
import { turnsUntil, until } from '../support/wait.js';

/** As in disconnects.test.ts: a missed close would take hundreds of turns (a timer), not a few. */
const ABORT_WITHIN_TURNS = 50;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ sim: { tokenDelayMs: 20 }, config: { timeouts: { first_token_ms: 10_000, idle_ms: 10_000 } } });
});
afterAll(async () => stack.close());

function open(stream: boolean, extra: Record<string, unknown>): { req: ClientRequest; text(): string } {
  const body = JSON.stringify({ model: 'sim-r1', input: 'What is 6 x 7?', stream, ...extra });
  const url = new URL(`${stack.url}/v1/responses`);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  let received = '';
  req.on('response', (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => (received += d));
    res.on('error', () => undefined); // the close below is ours
  });
  req.on('error', () => undefined); // ECONNRESET from our own destroy()
  req.end(body);
  return { req, text: () => received };
}

async function metric(name: string, ...labels: string[]): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && labels.every((f) => l.includes(f)));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

const count = (text: string, type: string): number => text.split(`"type":"${type}"`).length - 1;

describe.each([false, true])('stream: %s', (stream) => {
  it.each([
    {
      phase: 'thinking',
      extra: {},
      ready: (t: string) => (stream ? count(t, 'response.reasoning_text.delta') >= 3 : stack.sim.stats().liveGenerationTokens >= 3),
    },
    {
      phase: 'answer',
      extra: { max_thinking_tokens: 3 },
      ready: (t: string) => (stream ? count(t, 'response.output_text.delta') >= 2 : stack.sim.stats().total === 2 && stack.sim.stats().liveGenerationTokens >= 3 + 4 + 2),
    },
  ])('a close while $phase aborts the upstream within a few turns, counted once', async ({ phase, extra, ready }) => {
    stack.sim.reset();
    const before = stack.sim.stats().aborted;
    const disconnects = await metric('thinkgate_client_disconnects_total{', `phase="${phase}"`);
    const o = open(stream, extra);
    await until(() => ready(o.text()), 5000, `phase ${phase}`);
    o.req.destroy();
    const turns = await turnsUntil(() => stack.sim.stats().running === 0 && stack.sim.stats().aborted === before + 1, 2000, 'the upstream abort');
    expect(turns).toBeLessThanOrEqual(ABORT_WITHIN_TURNS);
    await until(async () => (await metric('thinkgate_inflight_requests ')) === 0, 2000, 'nothing in flight');
    expect((await metric('thinkgate_client_disconnects_total{', `phase="${phase}"`)) - disconnects).toBe(1);
    if (stream) expect(o.text()).toContain('event: response.created');
  });
});
