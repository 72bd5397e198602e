import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SseWriter } from '../../src/openai/sse-writer.js';
import { settled, until as untilFor } from '../support/wait.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const until = (cond: () => boolean): Promise<void> => untilFor(cond, 5000);

/**
 * The keep-alive interval on a clock the test moves (vi.advanceTimersByTime): real 10-100 ms
 * intervals raced the test's own sleeps on a loaded machine. Only setInterval/clearInterval
 * are faked, the writer's whole timer API; sockets and the test's own waits keep real time.
 */
const fakeKeepAliveClock = (): void => void vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });

interface Harness {
  port: number;
  /** The server side of the next request. */
  nextResponse(): Promise<ServerResponse>;
  close(): Promise<void>;
}

const open: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  while (open.length > 0) await open.pop()?.();
});

async function serve(): Promise<Harness> {
  const waiting: Array<(res: ServerResponse) => void> = [];
  const queued: ServerResponse[] = [];
  const server = http.createServer((_req, res) => {
    const w = waiting.shift();
    if (w) w(res);
    else queued.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const h: Harness = {
    port: (server.address() as AddressInfo).port,
    nextResponse: () => {
      const q = queued.shift();
      return q ? Promise.resolve(q) : new Promise((r) => waiting.push(r));
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  open.push(h.close);
  return h;
}

/** An http client that records the body bytes as they arrive. */
function get(port: number): { response: Promise<IncomingMessage>; body: () => string; ended: Promise<string> } {
  const chunks: Buffer[] = [];
  let resolveEnd!: (s: string) => void;
  const ended = new Promise<string>((r) => (resolveEnd = r));
  const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (res) => {
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveEnd(Buffer.concat(chunks).toString('utf8')));
      resolve(res);
    });
    req.on('error', reject);
  });
  open.push(() => void req.destroy());
  return { response, body: () => Buffer.concat(chunks).toString('utf8'), ended };
}

/** Every `res.write` the writer makes, as the text it wrote (the writes still happen). */
function recordWrites(res: ServerResponse): string[] {
  const writes: string[] = [];
  const realWrite = res.write.bind(res) as (chunk: string) => boolean;
  (res as unknown as { write: (c: string) => boolean }).write = (c: string) => {
    writes.push(String(c));
    return realWrite(c);
  };
  return writes;
}

/** A raw TCP client that sends a request and then does not read until told to. */
async function stalledClient(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  open.push(() => void socket.destroy());
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.pause();
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  return socket;
}

/**
 * Sends 8 KiB events until send() hands back a promise that stays pending: the client's
 * receive buffer and our socket buffer are full. (A promise that settles at once only means
 * Node's 16 KiB stream high-water mark was crossed inside one tick; keep filling.)
 * "Stays pending" is: still pending after 50 ms and then two more event-loop turns. On a
 * loaded machine the 50 ms timer can fire in the same loop iteration that has a finished
 * write to report; libuv reports it in that iteration's poll phase or the next one's pending
 * phase, both before the second turn, so a send about to drain is not taken for a stuck one.
 * Wrapped in an object: returning the promise itself from an async function would adopt it.
 */
async function fillUntilBackpressure(writer: SseWriter): Promise<{ pending: Promise<void>; sent: number }> {
  const payload = { pad: 'x'.repeat(8 * 1024) };
  for (let sent = 1; sent <= 8192; sent++) {
    const pending = writer.send(payload);
    if (pending === undefined) continue;
    const stuck = sleep(50)
      .then(() => turn())
      .then(() => turn())
      .then(() => 'stuck');
    const outcome = await Promise.race([pending.then(() => 'drained'), stuck]);
    if (outcome === 'stuck') return { pending, sent };
  }
  throw new Error('send() never stayed pending');
}

describe('SseWriter', () => {
  it('sends the SSE headers at start(), before any event', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    const writer = new SseWriter(res, { keepAliveMs: 0 });
    expect(writer.started).toBe(false);
    writer.start({ 'x-request-id': 'req-1' });
    expect(writer.started).toBe(true);
    const response = await client.response;
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['connection']).toBe('keep-alive');
    expect(response.headers['x-accel-buffering']).toBe('no');
    expect(response.headers['x-request-id']).toBe('req-1');
    expect(client.body()).toBe('');
    writer.done();
    expect(await client.ended).toBe('data: [DONE]\n\n');
  });

  it('started by its first send, the headers go out with the first events: one socket write, not two (issue 14)', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    // What reaches the socket, per syscall-level write (Node corks the head and body into one writev).
    const socket = res.socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    let socketWrites = 0;
    for (const k of ['_write', '_writev'] as const) {
      const real = socket[k].bind(socket);
      socket[k] = (...a: unknown[]) => {
        socketWrites++;
        real(...a);
      };
    }
    const flushHeaders = vi.spyOn(res, 'flushHeaders');
    const writer = new SseWriter(res, { keepAliveMs: 0 });
    writer.send({ i: 0 });
    writer.send({ i: 1 });
    expect(writer.started).toBe(true);
    expect(socketWrites).toBe(0); // held until the turn ends, headers too
    await turn();
    expect(socketWrites).toBe(1);
    expect(flushHeaders).not.toHaveBeenCalled();
    const response = await client.response;
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    writer.done();
    expect(await client.ended).toBe('data: {"i":0}\n\ndata: {"i":1}\n\ndata: [DONE]\n\n');
    expect(socketWrites).toBe(2);
  });

  it('flushNow() writes what is held at once, not at the end of the turn (the first event: time to first token)', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    const writes = recordWrites(res);
    const writer = new SseWriter(res, { keepAliveMs: 0 });
    expect(writer.flushNow()).toBeUndefined(); // nothing held: no write
    writer.send({ i: 0 });
    expect(writes).toEqual([]);
    expect(writer.flushNow()).toBeUndefined();
    expect(writes).toEqual(['data: {"i":0}\n\n']);
    writer.send({ i: 1 });
    writer.send({ i: 2 });
    await turn();
    expect(writes).toEqual(['data: {"i":0}\n\n', 'data: {"i":1}\n\ndata: {"i":2}\n\n']);
    writer.done();
    expect(await client.ended).toBe('data: {"i":0}\n\ndata: {"i":1}\n\ndata: {"i":2}\n\ndata: [DONE]\n\n');
  });

  it('a stream with no event before done(): headers and [DONE] in one write', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    const flushHeaders = vi.spyOn(res, 'flushHeaders');
    const writer = new SseWriter(res, { keepAliveMs: 0 });
    writer.done();
    expect(flushHeaders).not.toHaveBeenCalled();
    expect((await client.response).statusCode).toBe(200);
    expect(await client.ended).toBe('data: [DONE]\n\n');
  });

  it('writes exact event bytes: data lines, an error event, [DONE], then ends', async () => {
    const h = await serve();
    const client = get(h.port);
    const writer = new SseWriter(await h.nextResponse(), { keepAliveMs: 0 });
    // send() before start() starts the stream itself.
    expect(writer.send({ a: 1, s: 'line1\nline2 é "q"' })).toBeUndefined();
    writer.send([]);
    writer.sendError({ error: { message: 'upstream went away', type: 'upstream_error', param: null, code: 'upstream_error' } });
    expect(writer.closed).toBe(false);
    writer.done();
    expect(writer.closed).toBe(true);
    expect(await client.ended).toBe(
      'data: {"a":1,"s":"line1\\nline2 é \\"q\\""}\n\n' +
        'data: []\n\n' +
        'data: {"error":{"message":"upstream went away","type":"upstream_error","param":null,"code":"upstream_error"}}\n\n' +
        'data: [DONE]\n\n',
    );
    // After the end everything is a no-op, never a write-after-end error.
    expect(writer.send({ late: true })).toBeUndefined();
    writer.done();
    writer.end();
  });

  it('end() closes without [DONE]', async () => {
    const h = await serve();
    const client = get(h.port);
    const writer = new SseWriter(await h.nextResponse(), { keepAliveMs: 0 });
    writer.send({ a: 1 });
    writer.end();
    expect(await client.ended).toBe('data: {"a":1}\n\n');
  });

  it('sends keep-alive comments while idle', async () => {
    const h = await serve();
    const client = get(h.port);
    const writer = new SseWriter(await h.nextResponse(), { keepAliveMs: 20 });
    fakeKeepAliveClock();
    writer.start();
    vi.advanceTimersByTime(20);
    await until(() => client.body() === ': keep-alive\n\n');
    vi.advanceTimersByTime(20);
    await until(() => client.body() === ': keep-alive\n\n'.repeat(2));
    writer.send({ n: 1 });
    writer.done();
    const body = await client.ended;
    // Exactly two now that the clock only moves when the test moves it (it was 2 or 3).
    expect(body).toMatch(/^(: keep-alive\n\n){2}data: \{"n":1\}\n\ndata: \[DONE\]\n\n$/);
  });

  it('one write per tick: events sent in one turn reach the socket as one write, in order', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    const writes = recordWrites(res);
    const writer = new SseWriter(res, { keepAliveMs: 0 });
    writer.start();
    for (let i = 0; i < 64; i++) expect(writer.send({ i })).toBeUndefined();
    expect(writes).toEqual([]); // held until the turn ends
    await turn();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toBe(Array.from({ length: 64 }, (_, i) => `data: {"i":${i}}\n\n`).join(''));
    // The next turn's events are the next write; done() carries what is held as the last bytes.
    writer.send({ i: 64 });
    await turn();
    writer.send({ i: 65 });
    writer.done();
    expect(writes).toHaveLength(2);
    const body = await client.ended;
    expect(body).toBe(Array.from({ length: 66 }, (_, i) => `data: {"i":${i}}\n\n`).join('') + 'data: [DONE]\n\n');
  });

  it('one write per tick never holds more than the high-water mark: a big turn is written as it fills', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    let writes = 0;
    const realWrite = res.write.bind(res) as (chunk: string) => boolean;
    (res as unknown as { write: (c: string) => boolean }).write = (c: string) => {
      writes++;
      return realWrite(c);
    };
    const writer = new SseWriter(res, { keepAliveMs: 0 });
    const event = { pad: 'y'.repeat(1000) };
    // ~200 KB in one turn against the response's high-water mark (64 KiB on Node 22+).
    const hwm = res.writableHighWaterMark;
    const n = Math.ceil((3 * hwm) / 1000) + 5;
    for (let i = 0; i < n; i++) await writer.send(event);
    expect(writes).toBeGreaterThanOrEqual(2);
    expect(writes).toBeLessThanOrEqual(Math.ceil((n * 1020) / hwm) + 1);
    writer.done();
    const body = await client.ended;
    expect(body.split('\n\n')).toHaveLength(n + 2);
  });

  it('a close with events still held drops them: nothing is written after the close', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    const writer = new SseWriter(res, { keepAliveMs: 0 });
    writer.send({ first: true });
    await turn();
    await until(() => client.body().includes('first'));
    (await client.response).on('error', () => {}); // the reset below is the point
    writer.send({ held: true });
    res.destroy();
    await until(() => writer.closed);
    await turn();
    await turn();
    expect(client.body()).not.toContain('held');
  });

  it('sends no keep-alive while events flow (each send restarts the idle timer)', async () => {
    const h = await serve();
    const client = get(h.port);
    const writer = new SseWriter(await h.nextResponse(), { keepAliveMs: 100 });
    fakeKeepAliveClock();
    // 30 events 10 ms apart: 300 ms in all, three idle intervals had sends not restarted it.
    for (let i = 0; i < 30; i++) {
      writer.send(i);
      vi.advanceTimersByTime(10);
    }
    writer.done();
    const body = await client.ended;
    expect(body).not.toContain('keep-alive');
    expect(body.split('\n\n')).toHaveLength(32);
  });

  it('backpressure: a client that does not read gets a pending send(), resolved once it reads', async () => {
    const h = await serve();
    const socket = await stalledClient(h.port);
    const writer = new SseWriter(await h.nextResponse(), { keepAliveMs: 0 });
    const { pending: p, sent } = await fillUntilBackpressure(writer);
    expect(sent).toBeGreaterThan(10); // the kernel buffered some first
    const isSettled = settled(p);
    // Something that must not happen has no event to wait for: 100 ms more (already stuck for
    // 50 ms and two turns). A slower machine only waits longer; a drain would show.
    await sleep(100);
    expect(isSettled()).toBe(false);
    expect(writer.closed).toBe(false);

    let received = 0;
    let tail = '';
    socket.on('data', (c: Buffer) => {
      received += c.length;
      tail = (tail + c.toString('latin1')).slice(-64);
    });
    socket.resume();
    await p;
    expect(received).toBeGreaterThan(0);
    writer.done();
    // The connection is keep-alive: the response ends with the last chunk, not a socket end.
    await until(() => tail.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n'));
    expect(received).toBeGreaterThan(sent * 8 * 1024);
  });

  it('a close during a pending send settles it without hanging; later writes are no-ops', async () => {
    const h = await serve();
    const socket = await stalledClient(h.port);
    const res = await h.nextResponse();
    const writer = new SseWriter(res, { keepAliveMs: 10 });
    const { pending: p } = await fillUntilBackpressure(writer);
    socket.destroy();
    await Promise.race([p, sleep(5000).then(() => Promise.reject(new Error('pending send hung after close')))]);
    expect(writer.closed).toBe(true);
    expect(writer.send({ after: 'close' })).toBeUndefined();
    writer.sendError({ error: { message: 'x', type: 'server_error', param: null, code: null } });
    writer.done();
  });

  it('stops the keep-alive timer when the client goes away', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    const writer = new SseWriter(res, { keepAliveMs: 10 });
    fakeKeepAliveClock();
    const setSpy = vi.spyOn(globalThis, 'setInterval');
    const clearSpy = vi.spyOn(globalThis, 'clearInterval');
    open.push(() => {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    });
    writer.start();
    expect(setSpy).toHaveBeenCalledTimes(1);
    const timer = setSpy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false); // never holds the process open
    vi.advanceTimersByTime(10);
    await until(() => client.body().includes('keep-alive'));
    (await client.response).destroy();
    await until(() => writer.closed);
    expect(clearSpy).toHaveBeenCalledWith(timer);
    const write = vi.spyOn(res, 'write');
    vi.advanceTimersByTime(60); // six intervals: not one fires
    expect(write).not.toHaveBeenCalled();
  });

  it('stops the keep-alive timer at done()', async () => {
    const h = await serve();
    const client = get(h.port);
    const res = await h.nextResponse();
    const writer = new SseWriter(res, { keepAliveMs: 10 });
    fakeKeepAliveClock();
    writer.start();
    writer.done();
    const write = vi.spyOn(res, 'write');
    vi.advanceTimersByTime(60); // six intervals: not one fires
    expect(write).not.toHaveBeenCalled();
    expect(await client.ended).toBe('data: [DONE]\n\n');
  });
});
