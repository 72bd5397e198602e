/**
 * One batch of requests at one concurrency against one target, as the load generator reports
 * it to the orchestrator (over the child-process IPC channel), and the messages they exchange.
 * Raw samples travel, not percentiles, so the orchestrator can merge rounds before summarising.
 */
import type { RequestRecord } from './sse-record.js';

export interface BatchSpec {
  /** Full URL of the chat completions endpoint. */
  url: string;
  /**
   * Several equivalent endpoints (direct access to several simulator processes): worker i of
   * the closed loop uses urls[i % n], each origin with its share of the connections.
   */
  urls?: string[];
  /** The JSON request body, already serialised (the same bytes for every request). */
  body: string;
  headers?: Record<string, string>;
  concurrency: number;
  requests: number;
}

export interface BatchResult {
  wallMs: number;
  requests: number;
  ok: number;
  errors: number;
  /** The first few distinct error messages. */
  errorSamples: string[];
  ttftMs: number[];
  ttfaMs: number[];
  durationMs: number[];
  gapsMs: number[];
  tokenChunks: number;
  /** Socket reads (body chunks) of successful streams: tokens / reads says how the upstream paces. */
  reads: number;
  /** Sum of usage.completion_tokens, or of token chunks for requests without a usage chunk. */
  relayedTokens: number;
  /** Requests whose stream carried a usage chunk. */
  withUsage: number;
  bf: { n: number; segments: number; extensions: number; truncated: number; thinkingTokens: number };
}

export type ToLoadgen =
  | { type: 'run'; id: number; spec: BatchSpec }
  | { type: 'close-pools'; id: number }
  | { type: 'exit' };

export type FromLoadgen =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: BatchResult }
  | { type: 'closed'; id: number }
  | { type: 'failed'; id: number; message: string };

export function emptyBatch(): BatchResult {
  return {
    wallMs: 0,
    requests: 0,
    ok: 0,
    errors: 0,
    errorSamples: [],
    ttftMs: [],
    ttfaMs: [],
    durationMs: [],
    gapsMs: [],
    tokenChunks: 0,
    reads: 0,
    relayedTokens: 0,
    withUsage: 0,
    bf: { n: 0, segments: 0, extensions: 0, truncated: 0, thinkingTokens: 0 },
  };
}

/** Adds one request's record to `b` (successful requests only contribute latencies). */
export function addRecord(b: BatchResult, r: RequestRecord): void {
  b.requests++;
  if (!r.ok) {
    b.errors++;
    if (b.errorSamples.length < 5 && r.error && !b.errorSamples.includes(r.error)) b.errorSamples.push(r.error);
    return;
  }
  b.ok++;
  if (r.ttftMs !== null) b.ttftMs.push(r.ttftMs);
  if (r.ttfaMs !== null) b.ttfaMs.push(r.ttfaMs);
  b.durationMs.push(r.durationMs);
  for (const g of r.gapsMs) b.gapsMs.push(g);
  b.tokenChunks += r.tokenChunks;
  b.reads += r.reads;
  b.relayedTokens += r.completionTokens ?? r.tokenChunks;
  if (r.completionTokens !== null) b.withUsage++;
  if (r.budgetForcing) {
    b.bf.n++;
    b.bf.segments += r.budgetForcing.segments;
    b.bf.extensions += r.budgetForcing.extensions;
    b.bf.truncated += r.budgetForcing.truncated ? 1 : 0;
    b.bf.thinkingTokens += r.budgetForcing.thinking_tokens;
  }
}

/** Concatenates batches (rounds of one target at one level). */
export function mergeBatches(batches: readonly BatchResult[]): BatchResult {
  const m = emptyBatch();
  for (const b of batches) {
    m.wallMs += b.wallMs;
    m.requests += b.requests;
    m.ok += b.ok;
    m.errors += b.errors;
    for (const e of b.errorSamples) if (m.errorSamples.length < 5 && !m.errorSamples.includes(e)) m.errorSamples.push(e);
    for (const k of ['ttftMs', 'ttfaMs', 'durationMs', 'gapsMs'] as const) for (const v of b[k]) m[k].push(v);
    m.tokenChunks += b.tokenChunks;
    m.reads += b.reads;
    m.relayedTokens += b.relayedTokens;
    m.withUsage += b.withUsage;
    m.bf.n += b.bf.n;
    m.bf.segments += b.bf.segments;
    m.bf.extensions += b.bf.extensions;
    m.bf.truncated += b.bf.truncated;
    m.bf.thinkingTokens += b.bf.thinkingTokens;
  }
  return m;
}
