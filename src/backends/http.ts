/**
 * The plumbing under VllmBackend's non-streaming calls (/tokenize, /v1/models, /health):
 * one deadline per call, caller cancellation, bounded error bodies, and the shared error
 * mapping of upstream-errors.ts. The streaming call lives in client.ts (its timers differ).
 */
import type { Dispatcher } from 'undici';
import { AbortedError, ThinkgateError, UpstreamError, UpstreamTimeoutError } from '../errors.js';
import { mapTransportError, mapUpstreamStatus } from './upstream-errors.js';

/** Error bodies are read up to this many bytes (enough for any vLLM message), the rest dropped. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Default for `limits.max_upstream_response_bytes`: the most thinkgate buffers of one upstream
 * answer (a whole /tokenize or /v1/models body, one SSE event). A /tokenize of a 1M-token
 * prompt is about 7 MB; vLLM's first stream chunk carries `prompt_token_ids` (as large).
 */
export const DEFAULT_MAX_UPSTREAM_RESPONSE_BYTES = 16 * 1024 * 1024;

/** The stable code of an upstream answer over the byte limit. */
export const RESPONSE_TOO_LARGE = 'upstream_response_too_large';

export function responseTooLarge(what: string, limit: number): UpstreamError {
  return new UpstreamError(`vLLM answered ${what} with more than ${limit} bytes (limits.max_upstream_response_bytes).`, {
    code: RESPONSE_TOO_LARGE,
  });
}

/** Where one vLLM replica lives and how to reach it. */
export class VllmHttp {
  constructor(
    readonly dispatcher: Dispatcher,
    /** `http://host:port` */
    readonly origin: string,
    /** A path prefix without trailing slash ('' for none). */
    readonly basePath: string,
    readonly jsonHeaders: Record<string, string>,
    /** Largest body callJson reads (limits.max_upstream_response_bytes). */
    readonly maxResponseBytes: number = DEFAULT_MAX_UPSTREAM_RESPONSE_BYTES,
  ) {}

  /** A JSON call under one deadline; non-2xx, bad JSON and socket failures become ThinkgateErrors. */
  async callJson(
    method: 'GET' | 'POST',
    path: string,
    payload: unknown,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    const what = `${method} ${path}`;
    // Serialized outside the transport's try: a body that cannot be serialized is our error,
    // not the replica's (it must not read as "unreachable" and take the replica out of rotation).
    const body = payload === undefined ? null : JSON.stringify(payload);
    return withDeadline(signal, timeoutMs, what, async (s) => {
      let started = false;
      try {
        const res = await this.dispatcher.request({
          origin: this.origin,
          path: this.basePath + path,
          method,
          headers: this.jsonHeaders,
          body,
          signal: s,
        });
        started = true;
        if (res.statusCode < 200 || res.statusCode >= 300) {
          throw mapUpstreamStatus(res.statusCode, await readLimited(res.body), what);
        }
        const text = (await readBounded(res, this.maxResponseBytes, what)).toString('utf8');
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          // Not the SyntaxError as cause: V8 quotes the input in its message (an error-log leak).
          throw new UpstreamError(`vLLM answered ${what} with malformed JSON.`, { detail: `${String(err)}: ${text.slice(0, 500)}` });
        }
      } catch (err) {
        if (err instanceof ThinkgateError || s.aborted) throw err;
        throw mapTransportError(err, what, started ? 'response' : 'connect');
      }
    });
  }

  /** GET `path` under a deadline; the status code, body discarded. Throws like callJson. */
  async probe(path: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<number> {
    return withDeadline(signal, timeoutMs, `GET ${path}`, async (s) => {
      const res = await this.dispatcher.request({
        origin: this.origin,
        path: this.basePath + path,
        method: 'GET',
        headers: this.jsonHeaders,
        signal: s,
      });
      await res.body.dump({ limit: MAX_ERROR_BODY_BYTES });
      return res.statusCode;
    });
  }
}

/**
 * Runs `fn` with a signal that aborts at `timeoutMs` or when `signal` aborts, and reports
 * those as UpstreamTimeoutError ("request timeout") and AbortedError.
 */
export async function withDeadline<T>(
  signal: AbortSignal | undefined,
  timeoutMs: number,
  what: string,
  fn: (s: AbortSignal) => Promise<T>,
): Promise<T> {
  if (signal?.aborted) throw new AbortedError();
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const onAbort = (): void => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(ac.signal);
  } catch (err) {
    if (signal?.aborted) throw new AbortedError();
    if (timedOut) throw new UpstreamTimeoutError(`vLLM did not answer ${what} within ${timeoutMs} ms (request timeout).`);
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Validates with a zod schema; a mismatch is vLLM's fault (502), not the client's. */
export function parseOrThrow<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { message: string } } },
  json: unknown,
  what: string,
): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  throw new UpstreamError(`vLLM answered ${what} with an unexpected body.`, { detail: r.error.message });
}

/**
 * A whole response body, at most `limit` bytes: a declared Content-Length over it fails before
 * reading, a body that grows past it fails at that byte. Either way the body is destroyed, which
 * makes undici close the socket (the rest is never read).
 */
export async function readBounded(
  res: { headers: Record<string, string | string[] | undefined>; body: Dispatcher.ResponseData['body'] },
  limit: number,
  what: string,
): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (declared > limit) {
    res.body.destroy();
    throw responseTooLarge(what, limit);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    n += chunk.byteLength;
    if (n > limit) {
      res.body.destroy();
      throw responseTooLarge(what, limit);
    }
    parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(parts, n);
}

/** Reads at most MAX_ERROR_BODY_BYTES of an error body as text, then drops the rest. */
export async function readLimited(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    parts.push(Buffer.from(chunk));
    n += chunk.byteLength;
    if (n >= MAX_ERROR_BODY_BYTES) break; // leaving the loop destroys the body
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Awaits `p`, or rejects with AbortedError when `signal` aborts first (`p` runs on). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(new AbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
