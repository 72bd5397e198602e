/**
 * Serving engine runs over HTTP, for /v1/chat/completions and /v1/completions alike: admission,
 * start, then a JSON body or an SSE stream, with the metrics, cancellation and error rules of
 * docs/api.md in one place.
 *
 * Order: admission, one slot per run (per-key limit, then the limiter; 429 past the queue) ->
 * start on a replica, retried elsewhere until the first token (runs/start-runs.ts) -> render.
 * Before the first byte every failure is an HTTP status with the OpenAI envelope (app.ts's
 * error handler); the SSE stream opens only with the first token. After the first byte a failure is one
 * `data: {"error":...}` event, then the stream ends. Cancellation flows one way: client
 * disconnect -> the request's AbortController -> engine -> the upstream request of the current
 * segment.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import type { IndexedEvent } from '../runs/merge-choices.js';
import type { StartedRuns } from '../runs/start-runs.js';
import type { EngineEvent } from '../engine/types.js';
import { AbortedError, isAbortError, ServiceUnavailableError, UpstreamTimeoutError, toErrorBody, toThinkgateError } from '../errors.js';
import { SseWriter } from '../openai/sse-writer.js';
import { RequestMetrics } from '../metrics/request-metrics.js';
import { logUpstreamDetail } from '../logging/redact.js';

const REQUEST_ENDED = new AbortedError('The request ended.');

/** nginx's "client closed request": the metrics code of a request whose client went away. */
export const CLIENT_CLOSED = 499;

/** Non-stream rendering: every event, then one body. */
export interface EventCollector {
  onEvent(ev: EngineEvent, index: number): void;
  result(): unknown;
}

/** Stream rendering: the chunks to send for one event. */
export interface EventRenderer {
  onEvent(ev: EngineEvent, index: number): unknown[];
}

export interface RunsSpec {
  model: string;
  stream: boolean;
  /** Engine runs of the request (prompts x n): the slots it takes in admission (http/limiter.ts). */
  weight: number;
  start(signal: AbortSignal): Promise<StartedRuns>;
  collector(): EventCollector;
  renderer(): EventRenderer;
}

/** While draining, new requests get 503 (another instance takes them); /ready says so too. */
export function refuseWhileDraining(ctx: AppContext): void {
  if (ctx.draining) throw new ServiceUnavailableError('The gateway is shutting down; retry on another instance.');
}

export async function serveRuns(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, spec: RunsSpec): Promise<unknown> {
  refuseWhileDraining(ctx);
  const rm = new RequestMetrics(ctx.metrics, { model: spec.model, stream: spec.stream }, ctx.now);
  const client = watchClient(reply, ctx.shutdown.signal);
  let status = 200;
  let release: (() => void) | undefined;
  let releaseKey: (() => void) | undefined;
  let started: StartedRuns | undefined;
  try {
    releaseKey = ctx.keyLimits.acquire(request.apiKeyId, spec.weight);
    try {
      release = await ctx.limiter.acquire(client.signal, spec.weight);
    } catch (err) {
      if (isAbortError(err)) rm.disconnected('queued');
      throw err;
    }
    started = await spec.start(client.signal);
    // Only once a replica took the request: a 404 flood of junk names costs no lookup at all, and
    // a known model none (servedModel), so only a model's first request waits for /v1/models.
    if (await servedModel(ctx, spec.model)) rm.modelServed();
    rm.setUpstream(started.lease.backend.name);
    const budget = started.inputs[0]!.budget;
    rm.budget(budget.maxThinkingTokens, budget.minThinkingTokens);
    const events = replay(started.first, started.rest);
    if (!spec.stream) {
      const collector = spec.collector();
      for await (const { index, ev } of events) {
        rm.onEvent(ev, index);
        collector.onEvent(ev, index);
      }
      return reply.send(collector.result());
    }
    status = await streamEvents(reply, events, spec.renderer(), ctx, rm);
    if (status !== 200) rm.aborted(status === 504 ? 'upstream_timeout' : ctx.shutdown.signal.aborted ? 'drain_deadline' : 'upstream_error');
  } catch (err) {
    if (isAbortError(err) && !client.gone && ctx.shutdown.signal.aborted) {
      rm.aborted('drain_deadline');
      status = 503;
      throw shuttingDown();
    }
    if (client.gone || isAbortError(err)) {
      status = CLIENT_CLOSED;
      rm.disconnected();
      rm.aborted('client_disconnect');
      if (reply.sent || reply.raw.headersSent) return;
      throw err;
    }
    const e = toThinkgateError(err);
    if (e instanceof UpstreamTimeoutError) rm.aborted('upstream_timeout');
    else if (e.status >= 500) rm.aborted('upstream_error');
    status = e.status;
    throw err;
  } finally {
    client.dispose();
    started?.lease.release();
    release?.();
    releaseKey?.();
    rm.end(status);
  }
}

/**
 * Whether an upstream lists `model` in GET /v1/models (the pool caches the answer a few
 * seconds): only such a name may become a metrics label. A name that was found served before
 * needs no lookup; one that starts on an upstream that takes any name (llama-server) is still
 * not a label. Never rejects: a failed lookup means "not known to be served".
 */
async function servedModel(ctx: AppContext, model: string): Promise<boolean> {
  if (ctx.metrics.hasModel(model)) return true;
  try {
    return (await ctx.pool.models()).some((m) => m.id === model);
  } catch {
    return false;
  }
}

/** The events pulled while starting, then the rest. */
async function* replay(first: IndexedEvent[], rest: AsyncGenerator<IndexedEvent, void>): AsyncGenerator<IndexedEvent, void> {
  try {
    yield* first;
    yield* rest;
  } finally {
    await rest.return(undefined);
  }
}

async function streamEvents(
  reply: FastifyReply,
  events: AsyncGenerator<IndexedEvent, void>,
  renderer: EventRenderer,
  ctx: AppContext,
  rm: RequestMetrics,
): Promise<number> {
  let writer: SseWriter | null = null;
  const open = (): SseWriter => {
    reply.hijack(); // from here on we own the socket: errors become SSE events
    const w = new SseWriter(reply.raw, { keepAliveMs: ctx.config.sseKeepAliveMs });
    w.start();
    return w;
  };
  try {
    for await (const { index, ev } of events) {
      rm.onEvent(ev, index);
      const chunks = renderer.onEvent(ev, index);
      if (chunks.length === 0) continue;
      writer ??= open();
      for (const chunk of chunks) {
        const wait = writer.send(chunk);
        // Backpressure: a slow client slows the engine, not our memory. One that stops reading
        // for idle_ms (and never closes) would hold a slot and an upstream forever: cut it.
        if (wait && !(await drainedWithin(wait, ctx.config.timeouts.idleMs))) {
          reply.raw.destroy();
          throw Object.assign(new Error('the client stopped reading'), { name: 'AbortError' });
        }
      }
      if (writer.closed) throw Object.assign(new Error('client closed the stream'), { name: 'AbortError' });
    }
    writer ??= open();
    writer.done();
    return 200;
  } catch (err) {
    if (!writer || writer.closed) throw err;
    const drained = isAbortError(err) && ctx.shutdown.signal.aborted;
    if (isAbortError(err) && !drained) throw err;
    const e = drained ? shuttingDown() : toThinkgateError(err);
    reply.log.warn({ err }, 'stream failed after the first byte');
    logUpstreamDetail(reply.log, err);
    await writer.sendError(toErrorBody(e));
    writer.end();
    return e.status;
  }
}

/** Resolves true when `wait` settles within `ms`, false when the client is still not reading. */
async function drainedWithin(wait: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([wait.then(() => true as const), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

export function shuttingDown(): ServiceUnavailableError {
  return new ServiceUnavailableError('The gateway is shutting down and its drain deadline passed; retry the request.', {
    code: 'server_shutting_down',
  });
}

export interface ClientWatch {
  signal: AbortSignal;
  readonly gone: boolean;
  dispose(): void;
}

/**
 * Aborts when the client's connection closes before the response is complete, or when the drain
 * deadline passes (`shutdown`); `gone` tells the two apart.
 */
export function watchClient(reply: FastifyReply, shutdown: AbortSignal): ClientWatch {
  const ctrl = new AbortController();
  const onShutdown = (): void => ctrl.abort();
  shutdown.addEventListener('abort', onShutdown, { once: true });
  let gone = false;
  const res = reply.raw;
  const onClose = (): void => {
    if (res.writableFinished) return;
    gone = true;
    ctrl.abort();
  };
  res.on('close', onClose);
  return {
    signal: ctrl.signal,
    get gone() {
      return gone;
    },
    dispose() {
      res.off('close', onClose);
      shutdown.removeEventListener('abort', onShutdown);
      // Whatever is still running (an engine run left behind by an error) stops now. A given
      // reason: abort() without one builds a DOMException (a stack capture) on every request.
      if (!ctrl.signal.aborted) ctrl.abort(REQUEST_ENDED);
    },
  };
}
