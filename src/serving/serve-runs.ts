/**
 * Serving engine runs over HTTP, for /v1/chat/completions and /v1/completions alike: start, then
 * a JSON body or an SSE stream. The request's life around it (drain refusal, admission,
 * cancellation, the ending and its metrics) is lifecycle.ts, shared with relays.
 *
 * Order: admission, one slot per run (lifecycle.ts) -> start on a replica, retried elsewhere
 * until the first token (runs/start-runs.ts) -> render. Before the first byte every failure is
 * an HTTP status with the OpenAI envelope (app.ts's error handler); the SSE stream opens only
 * with the first token. After the first byte a failure is one `data: {"error":...}` event, then
 * the stream ends (docs/api.md).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import type { RunOptions, StartedRuns } from '../runs/start-runs.js';
import type { RequestTrace } from '../tracing/request-trace.js';
import type { EngineEvent } from '../engine/types.js';
import { isAbortError, toErrorBody, toThinkgateError, type ThinkgateError } from '../errors.js';
import { SseWriter } from '../openai/sse-writer.js';
import type { IndexedEvent } from '../engine/types.js';
import { type EventFeed, forEachEvent, observed } from './event-feed.js';
import { RequestMetrics } from '../metrics/request-metrics.js';
import { logUpstreamDetail } from '../logging/redact.js';
import { type Answer, requestLifecycle, shuttingDown } from './lifecycle.js';

/** Non-stream rendering: every event, then one body. */
export interface EventCollector {
  onEvent(ev: EngineEvent, index: number): void;
  result(): unknown;
}

/** Stream rendering: the chunks to send for one event. */
export interface EventRenderer {
  onEvent(ev: EngineEvent, index: number): unknown[];
  /** The one event that reports a failure after the first byte; default OpenAI's `data: {"error":...}`. */
  errorEvent?(e: ThinkgateError): unknown;
  /** False: the stream ends without OpenAI's `data: [DONE]` (Anthropic's ends with message_stop). */
  readonly sendsDone?: boolean;
}

export interface RunsSpec {
  model: string;
  stream: boolean;
  /** Engine runs of the request (prompts x n): the slots it takes in admission (http/limiter.ts). */
  weight: number;
  /** Choices per prompt (`n`), for a named key's `max_n`. */
  n: number;
  /**
   * `opts.cap`: the named key's ceiling on each run's M (quota/governor.ts); `opts.observer`: the
   * request's trace. Both applied by runs/start-runs.ts.
   */
  start(signal: AbortSignal, opts: RunOptions): Promise<StartedRuns>;
  collector(): EventCollector;
  /** Built once the runs started: their inputs give per-choice figures (prompt lengths for continuous usage). */
  renderer(started: StartedRuns): EventRenderer;
  /**
   * Reshapes the metered events before they are rendered (a majority vote: runs/majority-vote.ts).
   * Metrics and the quota meter see every run's events before it.
   */
  reshape?(events: AsyncGenerator<IndexedEvent, void>): AsyncGenerator<IndexedEvent, void>;
}

export function serveRuns(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, spec: RunsSpec): Promise<unknown> {
  // The registered route URL (never the raw URL with its query): a bounded label.
  const labels = { model: spec.model, stream: spec.stream, route: request.routeOptions.url ?? 'unknown' };
  const recorder = (): RequestMetrics => new RequestMetrics(ctx.metrics, labels, ctx.now);
  let tr: RequestTrace | undefined;
  const trace = (): RequestTrace | undefined =>
    (tr = ctx.tracing.startRequest(request.headers, { ...labels, method: request.method, requestId: request.id }));
  return requestLifecycle(ctx, request, reply, { weight: spec.weight, n: spec.n, recorder, trace }, async ({ signal, hold, recorder: rm, grant }) => {
    const started = await spec.start(signal, { cap: grant?.thinkingCap, observer: tr, unmerged: grant?.chargesQuota });
    hold(started.lease);
    // Only once a replica took the request: a 404 flood of junk names costs no lookup at all, and
    // a known model none (servedModel), so only a model's first request waits for /v1/models.
    if (await servedModel(ctx, spec.model)) rm.modelServed();
    rm.setUpstream(started.lease.backend.name);
    const budget = started.inputs[0]!.budget;
    rm.budget(budget.maxThinkingTokens, budget.minThinkingTokens);
    // The observers: the request's metrics, its trace, its key's token counts.
    const charges = grant?.chargesQuota === true;
    const observe = (e: IndexedEvent): void => {
      rm.onEvent(e.ev, e.index);
      tr?.observe(e);
      if (grant !== undefined && !charges) grant.count(e.ev);
    };
    let feed: EventFeed = { first: started.first, rest: started.rest, observe };
    if (charges || spec.reshape !== undefined) {
      // What must sit between the runs and the renderer, as generators: the key's meter charges
      // thinking as it streams (quota/governor.ts: a spent quota ends the stream), then the reshape.
      let events = observed(feed);
      if (charges) events = grant!.meter(events);
      if (spec.reshape !== undefined) events = spec.reshape(events);
      feed = { first: [], rest: events, observe: () => undefined };
    }
    if (spec.stream) return streamEvents(reply, feed, spec.renderer(started), ctx);
    const collector = spec.collector();
    await forEachEvent(feed, (e) => collector.onEvent(e.ev, e.index));
    return { status: 200, value: reply.send(collector.result()) };
  });
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

async function streamEvents(reply: FastifyReply, feed: EventFeed, renderer: EventRenderer, ctx: AppContext): Promise<Answer> {
  let writer: SseWriter | null = null;
  const open = (): SseWriter => {
    reply.hijack(); // from here on we own the socket: errors become SSE events
    // Started by its first send: the headers go out with the first event's bytes.
    return new SseWriter(reply.raw, { keepAliveMs: ctx.config.sseKeepAliveMs });
  };
  // Backpressure: a slow client slows the engine, not our memory. One that stops reading for
  // idle_ms (and never closes) would hold a slot and an upstream forever: cut it.
  const drain = async (wait: Promise<void>): Promise<void> => {
    if (!(await drainedWithin(wait, ctx.config.timeouts.idleMs))) {
      reply.raw.destroy();
      throw Object.assign(new Error('the client stopped reading'), { name: 'AbortError' });
    }
  };
  const sendFrom = async (w: SseWriter, chunks: unknown[], from: number): Promise<void> => {
    for (let i = from; i < chunks.length; i++) {
      const wait = w.send(chunks[i]);
      if (wait) await drain(wait);
    }
    if (w.closed) throw Object.assign(new Error('client closed the stream'), { name: 'AbortError' });
  };
  try {
    await forEachEvent(feed, ({ index, ev }) => {
      const chunks = renderer.onEvent(ev, index);
      if (chunks.length === 0) return undefined;
      const first = writer === null;
      const w = (writer ??= open());
      // Synchronous while the socket takes the chunks (the common case): no promise per event.
      for (let i = 0; i < chunks.length; i++) {
        const wait = w.send(chunks[i]);
        if (wait) return drain(wait).then(() => sendFrom(w, chunks, i + 1));
      }
      if (w.closed) throw Object.assign(new Error('client closed the stream'), { name: 'AbortError' });
      // The first event's chunks (the headers with them) go out now, not at the end of the turn:
      // the rest of that upstream read is still to be parsed (time to first token).
      if (first) {
        const wait = w.flushNow();
        if (wait) return drain(wait);
      }
      return undefined;
    });
    writer ??= open();
    if (renderer.sendsDone === false) writer.end();
    else writer.done();
    return { status: 200 };
  } catch (err) {
    if (!writer || writer.closed) throw err;
    const drained = isAbortError(err) && ctx.shutdown.signal.aborted;
    if (isAbortError(err) && !drained) throw err;
    const e = drained ? shuttingDown() : toThinkgateError(err);
    reply.log.warn({ err }, 'stream failed after the first byte');
    logUpstreamDetail(reply.log, err);
    await writer.send(renderer.errorEvent ? renderer.errorEvent(e) : toErrorBody(e));
    writer.end();
    return { status: e.status, error: e };
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
