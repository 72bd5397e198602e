/**
 * Bounds on the client side of the socket (issue 11, item 5): before them, requestTimeout and the
 * socket timeout were 0 and there was no connection cap, so 3,000 connections trickling a body
 * stayed open, unauthenticated ones already answered 401 among them. Raw sockets on loopback:
 * the point is what the server does to a connection, which an HTTP client library would hide.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

/** Opens a socket, writes `data`, resolves with everything read once the server closes it. */
function until_closed(url: string, data: string, maxMs: number): Promise<{ text: string; ms: number; closedByServer: boolean }> {
  const { hostname, port } = new URL(url);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname);
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text, ms: Date.now() - t0, closedByServer: false });
    }, maxMs);
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, ms: Date.now() - t0, closedByServer: true });
    });
    sock.on('error', () => undefined);
    sock.write(data);
  });
}

function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s));
    s.on('error', reject);
  });
}

const chatHead = (len: number) =>
  ['POST /v1/chat/completions HTTP/1.1', 'Host: x', 'Content-Type: application/json', `Content-Length: ${len}`, '', ''].join('\r\n');

describe('client connections are bounded', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      config: {
        server: { log_level: 'silent', sse_keepalive_ms: 0, request_timeout_ms: 600, headers_timeout_ms: 300, keep_alive_timeout_ms: 400, max_connections: 6 },
      },
    });
  });
  afterAll(async () => {
    await s.close();
  });

  it('a body trickled past request_timeout_ms gets 408 and a closed socket', async () => {
    const r = await until_closed(s.url, chatHead(1000) + '{"model":', 5000);
    expect(r.closedByServer).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1\.1 408/);
    expect(r.ms).toBeLessThan(3000);
  });

  it('headers that never finish are cut at headers_timeout_ms', async () => {
    const r = await until_closed(s.url, 'GET /health HTTP/1.1\r\nHost: x\r\n', 5000);
    expect(r.closedByServer).toBe(true);
    expect(r.ms).toBeLessThan(3000);
  });

  it('an idle keep-alive connection is closed after keep_alive_timeout_ms', async () => {
    const r = await until_closed(s.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', 5000);
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    expect(r.closedByServer).toBe(true);
    expect(r.ms).toBeLessThan(3000);
  });

  it('more than max_connections sockets at once: the extra ones are dropped, the server stays up', async () => {
    const held = await Promise.all(Array.from({ length: 6 }, () => openSocket(s.url)));
    try {
      // Node drops a connection past maxConnections as soon as it is accepted.
      const extra = await until_closed(s.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', 2000);
      expect(extra.closedByServer).toBe(true);
      expect(extra.text).toBe('');
    } finally {
      for (const h of held) h.destroy();
    }
    // Once they are gone, the server serves again.
    await expect.poll(async () => (await fetch(`${s.url}/health`)).status, { timeout: 3000 }).toBe(200);
  });
});

describe('early refusals close the connection', () => {
  it('a 413 on Content-Length is answered without reading the body, then the socket closes', async () => {
    const s = await startStack({ config: { limits: { body_limit_bytes: 1000 } } });
    try {
      const r = await until_closed(s.url, chatHead(5_000_000) + '{"model":', 5000);
      expect(r.text).toMatch(/^HTTP\/1\.1 413/);
      expect(r.closedByServer).toBe(true);
      expect(r.ms).toBeLessThan(3000);
    } finally {
      await s.close();
    }
  });

  it('a 401 before the body closes the socket instead of draining a trickled body', async () => {
    const s = await startStack({ config: { auth: { api_keys: ['sk-x'] } } });
    try {
      const r = await until_closed(s.url, chatHead(5_000_000) + '{"model":', 5000);
      expect(r.text).toMatch(/^HTTP\/1\.1 401/);
      expect(r.closedByServer).toBe(true);
      expect(r.ms).toBeLessThan(3000);
    } finally {
      await s.close();
    }
  });
});

describe('every route gets the same body checks (issue 11, item 8)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s.close();
  });

  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  for (const path of ['/tokenize', '/detokenize', '/v1/completions', '/v1/chat/completions']) {
    it(`${path}: a body 5,000 levels deep is a 400 naming the field, not a 500`, async () => {
      const res = await fetch(`${s.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"model":"sim-r1","prompt":"hi","x":${deep(5000)}}`,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { param: 'x', code: 'invalid_value' } });
    });
  }

  it('text/plain bodies are parsed and checked the same way', async () => {
    const res = await fetch(`${s.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `{"x":${deep(100)}}` });
    expect(res.status).toBe(400);
  });

  it('prototype-poisoning keys are refused on every content type', async () => {
    for (const type of ['application/json', 'text/plain']) {
      const res = await fetch(`${s.url}/tokenize`, { method: 'POST', headers: { 'content-type': type }, body: '{"__proto__":{"x":1}}' });
      expect([type, res.status]).toEqual([type, 400]);
    }
  });
});
