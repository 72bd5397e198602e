/**
 * Starts a chat request on a replica and runs it up to its first token. Until that token nothing
 * has reached the client, so a failed upstream (refused, 5xx, no first token in time) is retried
 * on another replica with backoff, a bounded number of times. After it, never: the client has
 * seen part of an answer that another replica would not continue token for token.
 */
import type { AppContext } from '../app-context.js';
import type { Backend } from '../engine/backend.js';
import { runBudgetForcing } from '../engine/run-budget-forcing.js';
import type { EngineInput } from '../engine/types.js';
import {
  AbortedError,
  ServiceUnavailableError,
  UpstreamError,
  UpstreamTimeoutError,
  isAbortError,
} from '../errors.js';
import type { ChatRequest } from '../openai/chat-request.js';
import type { UpstreamLease } from '../upstream-pool.js';
import { mergeChoices, type IndexedEvent } from './merge-choices.js';
import { prepareChat } from './prepare-chat.js';

export interface StartedChat {
  lease: UpstreamLease;
  input: EngineInput;
  /** Events pulled while starting (segment/usage events and the first renderable one). */
  first: IndexedEvent[];
  rest: AsyncGenerator<IndexedEvent, void>;
}

export interface RetryPolicy {
  /** Further attempts after the first. */
  retries: number;
  /** Backoff before retry k (0-based) is base * 2^k, with full jitter. */
  backoffMs: number;
}

export async function startChat(req: ChatRequest, ctx: AppContext, signal: AbortSignal, requestId: string): Promise<StartedChat> {
  const policy = ctx.retry;
  const tried = new Set<Backend>();
  const affinity = ctx.config.routing.affinity === 'prefix' ? conversationKey(req) : undefined;
  let lastErr: unknown;
  for (let attempt = 0; ; attempt++) {
    let lease: UpstreamLease;
    try {
      lease = ctx.pool.acquire(tried, affinity);
    } catch (err) {
      // No replica left to try: the failure that got us here says more than "none healthy".
      throw lastErr ?? err;
    }
    tried.add(lease.backend);
    try {
      const input = await prepareChat(req, lease.backend, ctx, signal);
      const n = req.n ?? 1;
      // Every upstream call gets its own id: request id, choice (when n > 1), segment.
      const runs = Array.from({ length: n }, (_, i) =>
        runBudgetForcing({ ...input, requestId: n > 1 ? `${requestId}-c${i}` : requestId }, lease.backend, signal),
      );
      const rest = mergeChoices(runs);
      const first: IndexedEvent[] = [];
      for (;;) {
        const r = await rest.next();
        if (r.done) break;
        first.push(r.value);
        const t = r.value.ev.type;
        if (t !== 'segment' && t !== 'usage') break;
      }
      ctx.metrics.upstreamRequest(lease.backend.name, 'ok');
      return { lease, input, first, rest };
    } catch (err) {
      lease.release();
      if (signal.aborted || isAbortError(err)) throw err instanceof AbortedError ? err : new AbortedError();
      ctx.metrics.upstreamRequest(lease.backend.name, err instanceof UpstreamTimeoutError ? 'timeout' : 'error');
      if (!isRetryable(err) || attempt >= policy.retries) throw err;
      lastErr = err;
      if (err instanceof UpstreamError && err.code === 'upstream_unreachable') ctx.pool.markUnhealthy(lease.backend);
      ctx.metrics.upstreamRetry(lease.backend.name);
      await sleep(Math.random() * policy.backoffMs * 2 ** attempt, signal);
    }
  }
}

/**
 * What identifies a conversation across turns: its model and its first two messages (system
 * prompt and first user turn), capped, so turn N+1 finds the replica that cached turn N.
 */
function conversationKey(req: ChatRequest): string {
  return `${req.model}\u0000${JSON.stringify(req.messages.slice(0, 2)).slice(0, 2048)}`;
}

/**
 * Failures of the replica, not of the request: another replica may well succeed. Timeouts are
 * not retried, except on connect: a replica that took first_token_ms to say nothing would make
 * every retry wait as long again (the client's own timeout is the better judge).
 */
function isRetryable(err: unknown): boolean {
  if (err instanceof UpstreamTimeoutError) return err.code === 'upstream_connect_timeout';
  return err instanceof UpstreamError || err instanceof ServiceUnavailableError;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new AbortedError());
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
