/**
 * upstreams[].keep_alive_timeout_ms and max_connections reach the backend's own undici pool
 * (backends/http-backend.ts poolOptions), checked on a real server that counts its sockets.
 */
import http, { type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backends/create-backend.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import type { PooledBackend } from '../../src/replicas/upstream-pool.js';
import { until } from '../support/wait.js';

interface Counting {
  url: string;
  /** Sockets accepted so far. */
  accepted: () => number;
  /** Most sockets with a request in flight at once. */
  peakBusy: () => number;
  server: Server;
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (open.length > 0) await open.pop()!();
});

/** GET /v1/models after `delayMs`; counts sockets and concurrent requests. */
async function countingServer(delayMs: number): Promise<Counting> {
  let accepted = 0;
  let busy = 0;
  let peak = 0;
  const server = http.createServer((_req, res) => {
    busy++;
    peak = Math.max(peak, busy);
    setTimeout(() => {
      busy--;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
    }, delayMs);
  });
  // The server keeps sockets far longer than any client setting here: the client decides.
  server.keepAliveTimeout = 60_000;
  server.on('connection', (_s: Socket) => accepted++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, accepted: () => accepted, peakBusy: () => peak, server };
}

function backendFor(entry: Record<string, unknown>): PooledBackend {
  const config = loadConfigFromObject({ upstreams: [entry] });
  const b = createBackend(config.upstreams[0]!, config);
  open.push(() => b.close());
  return b;
}

describe('upstream pool settings', () => {
  it('keep_alive_timeout_ms: a socket idle longer than it is not reused', async () => {
    const s = await countingServer(0);
    const b = backendFor({ url: s.url, keep_alive_timeout_ms: 100 });
    await b.models();
    await new Promise((r) => setTimeout(r, 400));
    await b.models();
    expect(s.accepted()).toBe(2);
  });

  it('keep_alive_timeout_ms: within it, the socket is reused', async () => {
    const s = await countingServer(0);
    const b = backendFor({ url: s.url, keep_alive_timeout_ms: 10_000 });
    await b.models();
    await new Promise((r) => setTimeout(r, 400));
    await b.models();
    expect(s.accepted()).toBe(1);
  });

  it('max_connections caps the sockets: 4 concurrent calls share 1', async () => {
    const s = await countingServer(50);
    const b = backendFor({ url: s.url, max_connections: 1 });
    await Promise.all([b.models(), b.models(), b.models(), b.models()]);
    expect(s.accepted()).toBe(1);
    expect(s.peakBusy()).toBe(1);
  });

  it('max_connections 0 (the default): concurrent calls get sockets of their own', async () => {
    const s = await countingServer(100);
    const b = backendFor({ url: s.url });
    await Promise.all([b.models(), b.models(), b.models(), b.models()]);
    await until(() => s.accepted() === 4, 2000, 'four sockets');
    expect(s.peakBusy()).toBe(4);
  });

  it('rejects a bad setting with the entry named', () => {
    expect(() => loadConfigFromObject({ upstreams: [{ url: 'http://x:1', keep_alive_timeout_ms: 0 }] })).toThrow(/upstreams\[0\]\.keep_alive_timeout_ms/);
    expect(() => loadConfigFromObject({ upstreams: [{ url: 'http://x:1', max_connections: -1 }] })).toThrow(/upstreams\[0\]\.max_connections/);
  });
});
