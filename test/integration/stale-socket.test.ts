/**
 * The keep-alive race (issue 14, item 5): a segment's POST goes out on a pooled socket the
 * server is just closing and fails before any response byte. For segments after the first the
 * client's stream had already started, so that used to end it with an error event. Now the POST
 * is sent once more, on a fresh connection to the same replica.
 *
 * The upstream here is a proxy in front of the simulator that plays the closing server
 * deterministically: on every reused socket it destroys the first /v1/completions request as
 * soon as it arrives (what a server that closed an idle socket does to a request already sent).
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { startStack, type Stack } from '../support/stack.js';

let sim: Simulator;
let proxy: Server;
let stack: Stack;
let killed = 0;

beforeAll(async () => {
  sim = await startSimulator({});
  const seen = new WeakMap<Socket, { requests: number; killed: boolean }>();
  proxy = createServer((req, res) => {
    const state = seen.get(req.socket) ?? { requests: 0, killed: false };
    seen.set(req.socket, state);
    state.requests++;
    if (req.method === 'POST' && req.url === '/v1/completions' && state.requests > 1 && !state.killed) {
      state.killed = true;
      killed++;
      req.socket.destroy();
      return;
    }
    const up = httpRequest(`${sim.url}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  stack = await startStack({ config: { upstreams: [{ url }], routing: { retries: 0 } } });
});
afterAll(async () => {
  await stack.close();
  proxy.closeAllConnections();
  proxy.close();
  await sim.close();
});

describe('a segment whose POST dies on a reused socket before any response byte', () => {
  it('is sent again on a fresh connection: the stream completes, with every segment', async () => {
    killed = 0;
    // A minimum above what the model thinks on its own: several segments on one replica.
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'sim-r1',
        messages: [{ role: 'user', content: 'What is 6 x 7?' }],
        min_thinking_tokens: 60,
        max_thinking_tokens: 80,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain('"error"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const usage = text
      .split('\n\n')
      .filter((b) => b.startsWith('data: {'))
      .map((b) => JSON.parse(b.slice(6)) as { budget_forcing?: { segments: number; extensions: number } })
      .find((c) => c.budget_forcing !== undefined)!;
    expect(usage.budget_forcing!.extensions).toBeGreaterThan(0);
    expect(usage.budget_forcing!.segments).toBeGreaterThan(2);
    // The race happened (at least one request died on a reused socket) and was absorbed.
    expect(killed).toBeGreaterThan(0);
  });
});
