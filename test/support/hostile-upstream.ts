/**
 * A hostile upstream for the tests: a real HTTP server on loopback that pretends to be vLLM.
 * Routes a test hands it a `Hostile` handler for answer hostilely (huge bodies streamed, never
 * allocated; endless lines; heartbeats; bad bytes); everything else is relayed to a real
 * simulator, so the gateway's ordinary calls (chat /tokenize, delimiter ids, /v1/models) work.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Answers one request; resolves when it is done writing (or the gateway hung up). */
export type Hostile = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface HostileUpstream {
  url: string;
  /** `METHOD /path` -> handler; absent routes go to the simulator. */
  routes: Map<string, Hostile>;
  /** The simulator that serves every other route. */
  target: string;
  /** Bytes written by hostile handlers since the last reset. */
  bytesSent: number;
  /** Resolves when the gateway closed a hostile response before it ended. */
  closedEarly(): Promise<void>;
  close(): Promise<void>;
}

export async function startHostileUpstream(): Promise<HostileUpstream> {
  let onEarlyClose: (() => void) | null = null;
  const state: HostileUpstream = {
    url: '',
    routes: new Map(),
    target: '',
    bytesSent: 0,
    closedEarly: () => new Promise<void>((resolve) => (onEarlyClose = resolve)),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server: Server = createServer((req, res) => {
    // /health is answered here: the gateway probes it before a test names its simulator.
    if (req.url === '/health') return void res.end();
    const hostile = state.routes.get(`${req.method} ${req.url?.split('?')[0]}`);
    if (hostile === undefined) return relayTo(state.target, req, res);
    res.on('close', () => {
      if (!res.writableFinished) onEarlyClose?.();
    });
    // The request body is not needed; drain it so the socket reads on.
    req.resume();
    hostile(req, res).catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function relayTo(target: string, req: IncomingMessage, res: ServerResponse): void {
  const up = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/** Writes `chunk` until `total` bytes went out or the peer left, honouring backpressure (no buffering). */
export async function writeRepeated(res: ServerResponse, chunk: Buffer, total: number, counter: { bytesSent: number }): Promise<void> {
  let sent = 0;
  while (sent < total && !res.destroyed) {
    if (!res.write(chunk) && !(await drainedOrClosed(res))) return;
    sent += chunk.byteLength;
    counter.bytesSent += chunk.byteLength;
  }
  if (!res.destroyed) res.end();
}

/** Resolves true at 'drain', false at 'close'; leaves no listener behind. */
function drainedOrClosed(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (drained: boolean) => (): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(drained);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Writes `event` every `everyMs` until the peer leaves. */
export async function repeatEvery(res: ServerResponse, event: string, everyMs: number): Promise<void> {
  while (!res.destroyed) {
    res.write(event);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `process.memoryUsage().rss` sampled every 10 ms while `fn` runs: the peak growth in bytes. */
export async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}
