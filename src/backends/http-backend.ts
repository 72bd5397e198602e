/**
 * What every HTTP inference-server Backend shares (vLLM's and llama.cpp's): the connection pool
 * it owns or borrows, timeouts with their defaults, JSON and SSE headers, the LRU cache of
 * tokenize(model, text) (delimiters and phrases are asked for once: docs/upstream-protocol.md), the health probe,
 * and close(). Each subclass adds only its own protocol.
 */
import { Client, Pool, type Dispatcher } from 'undici';
import { pipeline, Transform, type Readable } from 'node:stream';
import { ThinkgateError, UpstreamError } from '../errors.js';
import { DEFAULT_MAX_UPSTREAM_RESPONSE_BYTES, RESPONSE_TOO_LARGE, VllmHttp, abortable } from './http.js';
import { pathOnly } from '../logging/redact.js';
import type { ForwardRequest, ForwardResponse, Forwarder } from './forward.js';
import { mapTransportError } from './upstream-errors.js';
import { LruCache } from '../util/lru.js';
import type { StreamTarget } from './stream-completion.js';

export interface HttpBackendTimeouts {
  /** TCP connect (undici's connect timeout). Applies only to the pool the backend creates. */
  connectMs: number;
  /** From sending the request to the first SSE data event (queueing + prefill). */
  firstTokenMs: number;
  /** Longest gap between two SSE data events (time the consumer spends is not counted). */
  idleMs: number;
  /** Whole non-streaming calls: /tokenize, /v1/models. Default 30 s. */
  requestMs?: number;
  /** GET /health. Default min(requestMs, 5 s). */
  healthMs?: number;
}

export interface HttpBackendOptions {
  /** The server root, e.g. `http://vllm-0:8000` (a path prefix such as `http://proxy/vllm` is kept). */
  baseUrl: string;
  /** A caller-owned undici dispatcher (Agent, Pool, MockAgent). Without it the backend creates a Pool and `close()` closes it. */
  dispatcher?: Dispatcher;
  timeouts: HttpBackendTimeouts;
  /** Sent as `Authorization: Bearer <apiKey>` (the server's --api-key). */
  apiKey?: string;
  /** Extra headers on every upstream request. */
  headers?: Record<string, string>;
  /** Entries in the tokenize(model, text) cache. Default 4096. */
  tokenizeCacheSize?: number;
  /** Largest whole body or single SSE event read from the server (limits.max_upstream_response_bytes). */
  maxResponseBytes?: number;
  /** Largest relayed response (limits.max_relay_response_bytes); streamed, so this bounds length, not memory. */
  maxRelayResponseBytes?: number;
  /** The backend's own pool (not an injected dispatcher): upstreams[].keep_alive_timeout_ms and max_connections. */
  pool?: PoolSettings;
}

export interface PoolSettings {
  /** Idle sockets close after this. Default 4 s (undici's own default). */
  keepAliveTimeoutMs: number;
  /** Sockets at once; 0 = no cap. */
  maxConnections: number;
}

/**
 * undici Pool options for `settings`. The server's `Keep-Alive: timeout=` hint may shorten the
 * idle time but never lengthen it (keepAliveMaxTimeout): a socket kept past the server's own idle
 * close is the stale-socket race of docs/upstream-protocol.md.
 */
export function poolOptions(settings: PoolSettings, connectMs: number): Pool.Options {
  return {
    connect: { timeout: connectMs },
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    keepAliveMaxTimeout: settings.keepAliveTimeoutMs,
    ...(settings.maxConnections > 0 ? { connections: settings.maxConnections } : {}),
  };
}

/** Default for `limits.max_relay_response_bytes`. */
export const DEFAULT_MAX_RELAY_RESPONSE_BYTES = 256 * 1024 * 1024;

export abstract class HttpBackend implements Forwarder {
  readonly name: string;
  protected readonly http: VllmHttp;
  protected readonly timeouts: Required<HttpBackendTimeouts>;
  protected readonly streamHeaders: Record<string, string>;
  /** Bound on one SSE event (in UTF-16 units, which never outnumber the bytes they decode from). */
  protected readonly maxEventChars: number;
  private readonly maxRelayBytes: number;
  private readonly ownsDispatcher: boolean;
  private readonly tokenizeCache: LruCache<string, Promise<number[]>>;
  /** The serialized per-request part of streamed payloads, per sampling object (see payloadText). */
  private readonly samplingText = new WeakMap<object, string>();
  private closed = false;

  constructor(opts: HttpBackendOptions) {
    const url = new URL(opts.baseUrl);
    this.name = opts.baseUrl;
    const requestMs = opts.timeouts.requestMs ?? 30_000;
    this.timeouts = { ...opts.timeouts, requestMs, healthMs: opts.timeouts.healthMs ?? Math.min(requestMs, 5_000) };
    this.ownsDispatcher = opts.dispatcher === undefined;
    const pool = opts.pool ?? { keepAliveTimeoutMs: 4_000, maxConnections: 0 };
    const dispatcher = opts.dispatcher ?? new Pool(url.origin, poolOptions(pool, opts.timeouts.connectMs));
    // Caller headers first: the protocol's own headers always win.
    const auth: Record<string, string> = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};
    const jsonHeaders = { ...opts.headers, ...auth, 'content-type': 'application/json', accept: 'application/json' };
    this.streamHeaders = { ...jsonHeaders, accept: 'text/event-stream' };
    const maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_UPSTREAM_RESPONSE_BYTES;
    this.http = new VllmHttp(dispatcher, url.origin, url.pathname.replace(/\/+$/, ''), jsonHeaders, maxResponseBytes);
    this.maxEventChars = maxResponseBytes;
    this.maxRelayBytes = opts.maxRelayResponseBytes ?? DEFAULT_MAX_RELAY_RESPONSE_BYTES;
    this.tokenizeCache = new LruCache(opts.tokenizeCacheSize ?? 4096);
    // With our own pool, a retried segment gets a connection of its own (stream-completion.ts);
    // an injected dispatcher (tests, embedders) is used as it is.
    if (this.ownsDispatcher) {
      this.freshConnection = () => new Client(url.origin, { connect: { timeout: opts.timeouts.connectMs } });
    }
  }

  /** A one-off upstream connection for the stale-socket retry; undefined with an injected dispatcher. */
  protected readonly freshConnection: (() => Dispatcher) | undefined;

  /**
   * Where one streamed segment goes (stream-completion.ts): this replica's pool, headers,
   * timers and bounds, plus what the protocol says. Every segment carries its X-Request-Id
   * (vLLM takes it as its own request id; other servers ignore it, a proxy can still log it).
   */
  protected streamTarget(
    spec: Pick<StreamTarget, 'server' | 'what' | 'path' | 'body' | 'endedEarly'> & { requestId?: string; headers?: Readonly<Record<string, string>> },
  ): StreamTarget {
    const { requestId, headers: extra, ...protocol } = spec;
    // The call's own headers (a traceparent: CompletionRequest.headers) go under the protocol's.
    const base = extra === undefined ? this.streamHeaders : { ...extra, ...this.streamHeaders };
    return {
      ...protocol,
      http: this.http,
      headers: requestId ? { ...base, 'x-request-id': requestId } : base,
      timeouts: this.timeouts,
      maxEventChars: this.maxEventChars,
      ...(this.freshConnection === undefined ? {} : { freshConnection: this.freshConnection }),
    };
  }

  /**
   * Plain text -> ids through `load`, cached per (model, text) with LRU eviction. Concurrent
   * callers share one request, which therefore runs under `requestMs` only; `signal` ends this
   * caller's wait, not the shared request. A failed lookup is not cached.
   */
  protected async cachedTokenize(model: string, text: string, load: () => Promise<number[]>, signal?: AbortSignal): Promise<number[]> {
    const key = `${model}\u0000${text}`;
    let pending = this.tokenizeCache.get(key);
    if (pending === undefined) {
      const p = load();
      p.catch(() => this.tokenizeCache.deleteIfSame(key, p));
      this.tokenizeCache.set(key, p);
      pending = p;
    }
    const ids = await abortable(pending, signal);
    return ids.slice(); // callers may mutate; the cache keeps its own copy
  }

  /**
   * A streamed completion's JSON body: the request's sampling fields (the client's extras,
   * possibly megabytes) serialized once per request, then the segment's own protocol fields.
   * Every segment of every choice carries the same `sampling` object (the engine passes it
   * through), so issue 11 item 4's 7.9 MB unknown field x n = 128 is stringified once instead
   * of once per segment per choice. `perSegment` must have the same keys on every call: they
   * are removed from the sampling part, so the protocol always wins over a client field.
   */
  protected payloadText(
    sampling: Record<string, unknown>,
    toFields: (s: Record<string, unknown>) => Record<string, unknown>,
    perSegment: Record<string, unknown>,
  ): string {
    let fixed = this.samplingText.get(sampling);
    if (fixed === undefined) {
      const fields = toFields(sampling);
      for (const k of Object.keys(perSegment)) delete fields[k];
      fixed = JSON.stringify(fields).slice(1, -1);
      this.samplingText.set(sampling, fixed);
    }
    const own = JSON.stringify(perSegment);
    if (fixed === '') return own;
    return own === '{}' ? `{${fixed}}` : `{${fixed},${own.slice(1)}`;
  }

  /**
   * Relays one request unchanged (forward.ts). Transport failures become ThinkgateErrors
   * (502/504, retryable before the first byte); any HTTP status is the upstream's answer.
   */
  async forward(req: ForwardRequest): Promise<ForwardResponse> {
    const what = `${req.method} ${pathOnly(req.path)}`;
    const headers: Record<string, string> = { ...this.streamHeaders, accept: '*/*' };
    if (req.requestId !== undefined) headers['x-request-id'] = req.requestId;
    if (req.body === undefined) delete headers['content-type'];
    try {
      const res = await this.http.dispatcher.request({
        origin: this.http.origin,
        path: this.http.basePath + req.path,
        method: req.method,
        headers,
        body: req.body ?? null,
        signal: req.signal,
        headersTimeout: req.headersTimeoutMs,
        bodyTimeout: req.bodyTimeoutMs,
      });
      const ct = res.headers['content-type'];
      let body = res.body as unknown as Readable;
      // A success is streamed to the client, never buffered; the ceiling ends an endless one.
      // (An error status is read by readLimited, bounded on its own.)
      if (res.statusCode < 400) {
        if (Number(res.headers['content-length']) > this.maxRelayBytes) {
          body.destroy();
          throw relayTooLarge(what, this.maxRelayBytes);
        }
        body = capBytes(body, this.maxRelayBytes, () => relayTooLarge(what, this.maxRelayBytes));
      }
      return { status: res.statusCode, contentType: Array.isArray(ct) ? ct[0] : ct, body };
    } catch (err) {
      if (err instanceof ThinkgateError || req.signal.aborted) throw err;
      throw mapTransportError(err, what, 'connect');
    }
  }

  /** GET /health: true on 200 only. Never throws (a probe's failure is its answer). */
  async health(signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.http.probe('/health', signal, this.timeouts.healthMs)) === 200;
    } catch {
      return false;
    }
  }

  /** Closes the pool this backend created (waits for in-flight requests); a caller's dispatcher is left alone. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tokenizeCache.clear();
    if (this.ownsDispatcher) await this.http.dispatcher.close();
  }
}

function relayTooLarge(what: string, limit: number): UpstreamError {
  return new UpstreamError(`vLLM answered ${what} with more than ${limit} bytes (limits.max_relay_response_bytes).`, {
    code: RESPONSE_TOO_LARGE,
  });
}

/**
 * `body` through a counter that fails once more than `limit` bytes passed. pipeline() ties the
 * two: the counter's error destroys `body` (undici closes the socket), and a consumer that
 * destroys the counter (client gone) destroys `body` too.
 */
function capBytes(body: Readable, limit: number, error: () => Error): Readable {
  let n = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.byteLength;
      if (n > limit) cb(error());
      else cb(null, chunk);
    },
  });
  pipeline(body, counter, () => {});
  return counter;
}
