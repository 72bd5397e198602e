/**
 * Relays a request to one replica unchanged and streams its answer back (backends/forward.ts says
 * which requests and why). A replica that cannot be reached is retried on another before any
 * byte reaches the client, as for budget-forced requests. A success is the client's as the
 * upstream sent it (status, content type, body, streamed); an error status goes through the one
 * error mapping (upstream-errors.ts) like every other upstream error, so a client sees one error
 * envelope whichever vLLM version answered, and a 5xx is retried on another replica first.
 * The request's life around it (drain refusal, admission, cancellation, the ending) is
 * lifecycle.ts, shared with budget-forced runs; relays count in thinkgate_relayed_requests_total
 * by route, reason and final status. Client disconnect -> upstream abort: the pipeline destroys
 * the upstream body, which closes its socket.
 */
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { onReplica } from '../replicas/on-replica.js';
import { InternalError, NotFoundError, type ThinkgateError } from '../errors.js';
import { readLimited } from '../backends/http.js';
import { pathOnly } from '../logging/redact.js';
import { mapUpstreamStatus } from '../backends/upstream-errors.js';
import { canForward, type ForwardResponse } from '../backends/forward.js';
import type { UpstreamLease } from '../replicas/upstream-pool.js';
import { type Recorder, requestLifecycle } from './lifecycle.js';

export interface RelaySpec {
  method: 'GET' | 'POST';
  /** Upstream path (with query string). */
  path: string;
  /** The parsed JSON body, re-serialized as is (unknown keys and all). */
  body?: unknown;
  /** For metrics and the `x-thinkgate-relay` response header. */
  route: string;
  reason: string;
  /** Generation requests take an admission slot like any other; tokenizer calls do not. */
  admission: boolean;
  /**
   * Choices per prompt, for a named key's `max_n`. A relay is admitted by the key's policy (rate,
   * spent quota) but its tokens are not metered: thinkgate does not parse a relayed body.
   */
  n?: number;
  /** Response-header deadline: generation answers only at its end (0 = none). */
  headersTimeoutMs: number;
}

export function relay(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, spec: RelaySpec): Promise<unknown> {
  // Relays have their own counter: by route, reason and final status only.
  const recorder = (): Recorder => ({ end: ({ status }) => ctx.metrics.relayed(spec.route, spec.reason, status) });
  return requestLifecycle(ctx, request, reply, { weight: spec.admission ? 1 : 0, ...(spec.n !== undefined ? { n: spec.n } : {}), recorder }, async ({ signal, hold }) => {
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const started = await forwardOnReplica(ctx, spec, body, request.id, signal);
    hold(started.lease);
    const res = started.value;
    reply.hijack();
    const headers: Record<string, string> = { 'x-thinkgate-relay': spec.reason };
    if (res.contentType !== undefined) headers['content-type'] = res.contentType;
    reply.raw.writeHead(res.status, headers);
    await pipeline(res.body, reply.raw, { signal });
    return { status: res.status };
  });
}

/** Forwards on a replica (retried elsewhere before any byte, as budget-forced runs are). */
function forwardOnReplica(
  ctx: AppContext,
  spec: RelaySpec,
  body: string | undefined,
  requestId: string,
  signal: AbortSignal,
): Promise<{ lease: UpstreamLease; value: ForwardResponse }> {
  return onReplica(ctx, signal, undefined, async (backend) => {
    if (!canForward(backend)) throw new InternalError(`The upstream ${backend.name} cannot relay requests.`);
    const res = await backend.forward({
      method: spec.method,
      path: spec.path,
      ...(body === undefined ? {} : { body }),
      requestId,
      signal,
      headersTimeoutMs: spec.headersTimeoutMs,
      bodyTimeoutMs: ctx.config.timeouts.idleMs,
    });
    if (res.status >= 400) throw await upstreamFailure(res, spec);
    return res;
  });
}

/** An upstream error answer as a ThinkgateError (its body read up to the error-body limit). */
async function upstreamFailure(res: ForwardResponse, spec: RelaySpec): Promise<ThinkgateError> {
  const what = `${spec.method} ${pathOnly(spec.path)}`;
  const text = await readLimited(res.body);
  const mapped = mapUpstreamStatus(res.status, text, what);
  // A route the upstream does not serve (vLLM's /tokenizer_info needs
  // --enable-tokenizer-info-endpoint) is a 404 to the client, not a broken gateway: lm-eval
  // reads any non-200 there as "no remote tokenizer" and falls back.
  if (res.status === 404 && !(mapped instanceof NotFoundError)) {
    return new NotFoundError(`The upstream does not serve ${what}.`, { code: 'not_found' });
  }
  return mapped;
}
