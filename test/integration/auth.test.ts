/**
 * The API-key rule as an attacker tries it (issue 11, item 1). Every request goes over a raw
 * TCP socket, so the request line is exactly what an attacker writes: fetch() and undici would
 * normalise `%76`, `/./` and the absolute form away before the gateway ever saw them.
 *
 * The rule: a protected route (every route not on OPEN_ROUTES) answers 401 without a key, and
 * no spelling of its path answers 2xx; a walk over every registered route fails when a new
 * route is neither protected nor on the open list.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_ROUTES } from '../../src/http/auth.js';
import { startStack, until, type Stack } from '../support/stack.js';

const KEY = 'sk-test-key';

interface RawResponse {
  status: number;
  headers: string;
  body: string;
  /** The server closed the socket after answering. */
  closed: boolean;
}

/** Sends one raw HTTP/1.1 request and reads one response (Content-Length or close-delimited). */
function raw(url: string, request: string, timeoutMs = 10_000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const head = request.startsWith('HEAD ');
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    let buf = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`no answer to ${JSON.stringify(request.slice(0, 80))}`)), timeoutMs);
    const parse = (closed: boolean): RawResponse | undefined => {
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const headers = text.slice(0, end);
      // A HEAD answer announces a length but carries no body.
      const len = head ? null : /\r\ncontent-length:\s*(\d+)/i.exec(headers);
      if (head) return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), headers, body: '', closed };
      const body = text.slice(end + 4);
      if (len && Buffer.byteLength(body, 'latin1') < Number(len[1])) return undefined;
      if (!len && !closed && !/transfer-encoding: chunked/i.test(headers)) return undefined;
      if (!len && /transfer-encoding: chunked/i.test(headers) && !body.includes('\r\n0\r\n\r\n') && !closed) return undefined;
      return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), headers, body, closed };
    };
    const finish = (err: Error | null, res?: RawResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const r = parse(false);
      if (r) finish(null, r);
    });
    sock.on('end', () => {
      const r = parse(true);
      if (r) finish(null, r);
      else finish(new Error('closed without a response'));
    });
    sock.on('error', (e) => finish(e));
    sock.write(request);
  });
}

const chatBody = JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
const tokenizeBody = JSON.stringify({ model: 'sim-r1', prompt: 'hi' });

function req(method: string, target: string, body?: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

/** Encodes the character at `i` of `path` as %XX (upper or lower hex). */
const encodeAt = (path: string, i: number, lower = false): string => {
  const hex = path.charCodeAt(i).toString(16).padStart(2, '0');
  return path.slice(0, i) + '%' + (lower ? hex : hex.toUpperCase()) + path.slice(i + 1);
};

/**
 * Spellings of one path that a router might resolve to the same route: each character
 * percent-encoded, case changes, doubled and dot segments, encoded slashes and dots, trailing
 * slashes, the absolute form, query strings and fragments.
 */
function spellings(path: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i < path.length; i++) {
    out.add(encodeAt(path, i));
    out.add(encodeAt(path, i, true));
  }
  const segments = path.split('/').filter(Boolean);
  out.add(path.toUpperCase());
  out.add(path.replace(/[a-z]/, (c) => c.toUpperCase()));
  out.add('/' + path);
  out.add(path.replaceAll('/', '//'));
  out.add(path + '/');
  out.add(path + '//');
  out.add('/.' + path);
  out.add(path.replace(/\/([^/]+)$/, '/./$1'));
  out.add(`/x/..${path}`);
  out.add(`/x/%2e%2e${path}`);
  out.add(`/%2e${path}`);
  out.add(path.replaceAll('/', '%2F'));
  out.add(path.replace(/\/([^/]+)$/, '%2F$1'));
  out.add(`${path}?`);
  out.add(`${path}?x=1`);
  out.add(`${path}#frag`);
  out.add(`${path};x=1`);
  out.add(`${path}%00`);
  out.add(`${path}%20`);
  out.add(`/${segments.join('/%2f')}`);
  out.add(`http://anything${path}`);
  out.add(`http://127.0.0.1${path}`);
  out.add(`HTTP://anything${encodeAt(path, 1)}`);
  out.add(`http://user:pass@anything${path}`);
  out.add(`//anything${path}`);
  out.add(path.replace(/^\//, '\\'));
  out.add(path.replaceAll('/', '\\'));
  return [...out];
}

describe('API keys: protected by default, decided on the matched route', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ config: { auth: { api_keys: [KEY] } } });
  });
  afterAll(async () => {
    await s.close();
  });

  const protectedRoutes: Array<{ method: string; path: string; body?: string }> = [
    { method: 'POST', path: '/v1/chat/completions', body: chatBody },
    { method: 'POST', path: '/v1/completions', body: JSON.stringify({ model: 'sim-r1', prompt: 'hi', max_tokens: 4 }) },
    { method: 'GET', path: '/v1/models' },
    { method: 'POST', path: '/tokenize', body: tokenizeBody },
    { method: 'POST', path: '/detokenize', body: JSON.stringify({ model: 'sim-r1', tokens: [1, 2] }) },
    { method: 'GET', path: '/tokenizer_info' },
  ];

  for (const r of protectedRoutes) {
    it(`${r.method} ${r.path}: no spelling of the path gets past without a key`, async () => {
      const leaks: string[] = [];
      for (const target of spellings(r.path)) {
        for (const method of [r.method, ...(r.method === 'GET' ? ['HEAD'] : [])]) {
          const res = await raw(s.url, req(method, target, r.body));
          if (res.status !== 401 && res.status !== 404 && res.status !== 400) leaks.push(`${method} ${target} -> ${res.status}`);
        }
      }
      expect(leaks).toEqual([]);
    });
  }

  it('the plain spelling answers 401 without a key and 200 with it', async () => {
    for (const r of protectedRoutes.filter((x) => x.path !== '/tokenizer_info')) {
      const denied = await raw(s.url, req(r.method, r.path, r.body));
      expect([r.path, denied.status]).toEqual([r.path, 401]);
      expect(JSON.parse(denied.body).error.code).toBe('invalid_api_key');
      const ok = await raw(s.url, req(r.method, r.path, r.body, { Authorization: `Bearer ${KEY}` }));
      expect([r.path, ok.status]).toEqual([r.path, 200]);
    }
  });

  it('the encoded spellings that reach a route need the key like the plain one (they are the same route)', async () => {
    // The router decodes `%76` to `v`: with the key the request is served, without it refused.
    const target = '/%761/models';
    expect((await raw(s.url, req('GET', target))).status).toBe(401);
    expect((await raw(s.url, req('GET', target, undefined, { Authorization: `Bearer ${KEY}` }))).status).toBe(200);
    expect((await raw(s.url, req('POST', 'http://anything/v1/chat/completions', chatBody))).status).toBe(401);
  });

  it('refuses wrong, empty and malformed keys alike', async () => {
    for (const authorization of ['Bearer wrong', 'Bearer ', 'Basic ' + Buffer.from(`x:${KEY}`).toString('base64'), KEY, `Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`]) {
      const res = await raw(s.url, req('GET', '/v1/models', undefined, { Authorization: authorization }));
      expect([authorization, res.status]).toEqual([authorization, 401]);
    }
  });

  it('an unknown route needs a key too (401, not a 404 that maps the API)', async () => {
    expect((await raw(s.url, req('GET', '/v1/nope'))).status).toBe(401);
    expect((await raw(s.url, req('GET', '/admin'))).status).toBe(401);
    expect((await raw(s.url, req('GET', '/v1/nope', undefined, { Authorization: `Bearer ${KEY}` }))).status).toBe(404);
  });

  it('the open routes answer without a key', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/openapi.yaml']) {
      expect([path, (await raw(s.url, req('GET', path))).status]).toEqual([path, 200]);
    }
  });

  it('every registered route is either on the open list or refuses a request without a key', async () => {
    const routes = s.app.thinkgate.routes.map((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return { method, path };
    });
    expect(routes.length).toBeGreaterThan(8);
    const open = routes.filter((r) => OPEN_ROUTES.includes(r.path)).map((r) => r.path);
    // The open list is exactly what the README documents: nothing else slipped onto it.
    expect([...new Set(open)].sort()).toEqual(['/health', '/metrics', '/openapi.yaml', '/ready']);
    for (const r of routes) {
      if (OPEN_ROUTES.includes(r.path)) continue;
      const res = await raw(s.url, req(r.method, r.path.replaceAll(/:(\w+)/g, 'x'), r.method === 'POST' ? '{}' : undefined));
      expect([`${r.method} ${r.path}`, res.status]).toEqual([`${r.method} ${r.path}`, 401]);
    }
  });

  it('closes the socket after a 401 answered before the body arrived (no trickled body holds it open)', async () => {
    const head = [
      'POST /v1/chat/completions HTTP/1.1',
      'Host: 127.0.0.1',
      'Content-Type: application/json',
      'Content-Length: 1000000',
      '',
      '{"model":',
    ].join('\r\n');
    const res = await raw(s.url, head);
    expect(res.status).toBe(401);
    expect(res.headers.toLowerCase()).toContain('connection: close');
  });
});

describe('API keys: /metrics behind a key when auth.metrics is api_key', () => {
  it('needs the key for /metrics, still not for /health', async () => {
    const s = await startStack({ config: { auth: { api_keys: [KEY], metrics: 'api_key' } } });
    try {
      expect((await raw(s.url, req('GET', '/metrics'))).status).toBe(401);
      expect((await raw(s.url, req('GET', '/metrics', undefined, { Authorization: `Bearer ${KEY}` }))).status).toBe(200);
      expect((await raw(s.url, req('GET', '/health'))).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('per-key limits count configured keys, not bearer values', () => {
  it('random bearer values get 401 before any slot; two real keys each have their own', async () => {
    const s = await startStack({
      config: { auth: { api_keys: [KEY, 'sk-other'] }, limits: { per_key_max_concurrent: 1 } },
      sim: { tokenDelayMs: 30 },
    });
    try {
      const body = JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 30 });
      const slow = raw(s.url, req('POST', '/v1/chat/completions', body, { Authorization: `Bearer ${KEY}` }));
      // It holds KEY's one slot once it is upstream (a fixed 100 ms was too short on a loaded machine).
      await until(() => s.sim.stats().running === 1, 5000, 'the first request to reach the upstream');
      const second = await raw(s.url, req('POST', '/v1/chat/completions', body, { Authorization: `Bearer ${KEY}` }));
      expect(second.status).toBe(429);
      const other = await raw(s.url, req('POST', '/v1/chat/completions', body, { Authorization: 'Bearer sk-other' }));
      expect(other.status).toBe(200);
      const random = await raw(s.url, req('POST', '/v1/chat/completions', body, { Authorization: 'Bearer random-1' }));
      expect(random.status).toBe(401);
      expect((await slow).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('malformed URLs', () => {
  it('answer 400 in the OpenAI envelope, with or without keys', async () => {
    for (const keys of [[], [KEY]]) {
      const s = await startStack({ config: { auth: { api_keys: keys } } });
      try {
        for (const target of ['/v1/models%', '/v1/%zz', '/%', '/v1/chat/completions%c0']) {
          const res = await raw(s.url, req('GET', target));
          expect([target, res.status]).toEqual([target, 400]);
          expect(JSON.parse(res.body)).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_url' } });
        }
      } finally {
        await s.close();
      }
    }
  });
});
