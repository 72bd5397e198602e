/**
 * One request's life, the same for budget-forced runs (serve-runs.ts) and relays (relay.ts):
 *
 *   refuse while draining -> watch the client -> the named key's policy (rate, quota, caps:
 *   quota/governor.ts) -> per-key slot, then an admission slot (by
 *   weight: a run per slot, a relay 1, tokenizer calls none) -> the body, holding the replica
 *   lease it took -> classify the ending -> release everything in one `finally` -> one
 *   `recorder.end(outcome)`.
 *
 * The callers keep only what differs: rendering JSON or SSE (serve-runs.ts), piping a relay
 * (relay.ts). Endings (docs/api.md, docs/metrics.md):
 * - the client went away: 499, never rendered (nobody to render to);
 * - the drain deadline passed (docs/architecture.md, "Shutdown"): 503 `server_shutting_down`;
 * - a failure before the first byte: its status, rendered by app.ts's error handler;
 * - a failure after it: what the body rendered (an SSE error event), or else the response is
 *   cut short (a relay can do nothing more) and counts 502.
 * Cancellation flows one way: client disconnect (or the drain deadline) -> this request's
 * AbortController -> the limiter queue, the engine, the upstream request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import type { UpstreamLease } from '../replicas/upstream-pool.js';
import type { Outcome } from '../metrics/request-metrics.js';
import type { Grant } from '../quota/index.js';
import { UNNAMED_KEY } from '../quota/policy.js';
import {
  AbortedError,
  isAbortError,
  ServiceUnavailableError,
  type ThinkgateError,
  toThinkgateError,
  UpstreamTimeoutError,
} from '../errors.js';

const REQUEST_ENDED = new AbortedError('The request ended.');

/** nginx's "client closed request": the metrics code of a request whose client went away. */
export const CLIENT_CLOSED = 499;

/** Where a request's ending is counted: request metrics for runs, the relay counter for relays. */
export interface Recorder {
  end(outcome: Outcome): void;
}

export interface LifecycleSpec<R extends Recorder> {
  /** Admission slots the request takes (http/limiter.ts): its engine runs, a relay 1, 0 none. */
  weight: number;
  /** Choices per prompt (`n`), checked against a named key's `max_n`; 1 when absent. */
  n?: number;
  /** Built once the request is past the drain check (request metrics count it in flight from here). */
  recorder(): R;
  /** A second recorder built and ended with the first: the request's trace (tracing/request-trace.ts), when tracing is on. */
  trace?(): Recorder | undefined;
}

/** What the body gets: the request's signal, a place for its lease, its recorder. */
export interface Live<R extends Recorder> {
  /** Aborts when the client goes away or the drain deadline passes. */
  readonly signal: AbortSignal;
  /** The replica lease the body took: released when the request ends, whatever happens. */
  hold(lease: UpstreamLease): void;
  readonly recorder: R;
  /** The named key's admission (its M cap and meter); undefined for a request of weight 0. */
  readonly grant: Grant | undefined;
}

/** How the body answered: its status, or the error it rendered after the first byte. */
export interface Answer {
  status: number;
  /** The error sent as the response's last words (an SSE error event); `status` is its status. */
  error?: ThinkgateError;
  /** What the route handler returns to Fastify (the reply, for a JSON body). */
  value?: unknown;
}

/** While draining, new requests get 503 (another instance takes them); /ready says so too. */
export function refuseWhileDraining(ctx: AppContext): void {
  if (ctx.draining) throw new ServiceUnavailableError('The gateway is shutting down; retry on another instance.');
}

export async function requestLifecycle<R extends Recorder>(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  spec: LifecycleSpec<R>,
  body: (live: Live<R>) => Promise<Answer>,
): Promise<unknown> {
  refuseWhileDraining(ctx);
  const recorder = spec.recorder();
  const trace = spec.trace?.();
  const client = watchClient(reply, ctx.shutdown.signal);
  let outcome: Outcome = { status: 500 };
  let queued = false;
  let releaseKey: (() => void) | undefined;
  let release: (() => void) | undefined;
  let lease: UpstreamLease | undefined;
  let grant: Grant | undefined;
  try {
    if (spec.weight > 0) {
      grant = await ctx.quota.admit(request.keyPolicy, spec.n ?? 1, spec.weight);
      releaseKey = ctx.keyLimits.acquire(request.apiKeyId, spec.weight);
      queued = true;
      release = await ctx.limiter.acquire(client.signal, spec.weight);
      queued = false;
    }
    const answer = await body({ signal: client.signal, hold: (l) => (lease = l), recorder, grant });
    outcome = answer.error ? failed(answer.error, true, ctx) : { status: answer.status };
    return answer.value;
  } catch (err) {
    const started = reply.sent || reply.raw.headersSent;
    if (client.gone || isAbortError(err) || client.signal.aborted) {
      // Only the client's close sets `gone`; an abort without it is the drain deadline.
      const drained = !client.gone && ctx.shutdown.signal.aborted;
      outcome = drained
        ? { status: 503, abort: 'drain_deadline', queued }
        : { status: CLIENT_CLOSED, abort: 'client_disconnect', queued };
      if (started) {
        reply.raw.destroy();
        return undefined;
      }
      throw drained ? shuttingDown() : err instanceof AbortedError ? err : new AbortedError();
    }
    if (started) {
      // Mid-body, and the body could not say so (a relay pipes bytes): end the response short.
      request.log.warn({ err }, 'response failed after the first byte');
      reply.raw.destroy();
      outcome = { status: 502, abort: 'upstream_error' };
      return undefined;
    }
    outcome = failed(toThinkgateError(err), false, ctx);
    throw err;
  } finally {
    client.dispose();
    lease?.release();
    release?.();
    releaseKey?.();
    recorder.end(outcome);
    trace?.end(outcome);
    ctx.keyMetrics.request(request.keyPolicy?.name ?? UNNAMED_KEY, outcome.status);
  }
}

/**
 * A failure as the metrics count it. Before the first byte only a server-side one (5xx) aborted
 * anything; after it every failure cut a response short, and one at the drain deadline is the
 * drain's.
 */
function failed(e: ThinkgateError, afterFirstByte: boolean, ctx: AppContext): Outcome {
  if (e instanceof UpstreamTimeoutError) return { status: e.status, abort: 'upstream_timeout' };
  if (afterFirstByte) return { status: e.status, abort: ctx.shutdown.signal.aborted ? 'drain_deadline' : 'upstream_error' };
  return e.status >= 500 ? { status: e.status, abort: 'upstream_error' } : { status: e.status };
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
