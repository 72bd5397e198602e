/**
 * The shapes and constants of thinkgate's metrics (docs/metrics.md): histogram buckets, label
 * values, and the interface the rest of the code records through. metrics.ts builds them.
 */
import type { Gauge, Registry } from 'prom-client';
import type { SegmentCause } from '../engine/types.js';

/** What became of a chat first segment (Metrics.chatFirstSegment). */
export type ChatFirstOutcome = 'used' | 'unused' | 'refused';

/** 1-2-5 token buckets from 0 (a request with M = 0 thinks 0 tokens) to 1M, the longest contexts served. */
export const TOKEN_BUCKETS: readonly number[] = [
  0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000,
];

/** Upstream segments per request: 1 without forcing, a few with extensions, many is a smell. */
export const SEGMENT_BUCKETS: readonly number[] = [1, 2, 3, 4, 5, 6, 8, 10, 16, 32];

/** Seconds, 5 ms to 30 min: reasoning models think for minutes at large budgets. */
export const SECONDS_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800,
];

/**
 * vLLM's own buckets (vllm/v1/metrics/loggers.py: time_to_first_token_seconds and
 * e2e_request_latency_seconds), so a dashboard can overlay the gateway's and vLLM's series.
 */
export const VLLM_TTFT_BUCKETS: readonly number[] = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];
export const VLLM_E2E_BUCKETS: readonly number[] = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
];

/** How a request's thinking ended: by itself, after extensions, or cut at the max. */
export type BudgetOutcome = 'natural' | 'extended' | 'truncated';
/** Why a request ended early. */
export type AbortReason = 'client_disconnect' | 'drain_deadline' | 'upstream_error' | 'upstream_timeout';

export const DEFAULT_MAX_MODEL_LABELS = 100;
/** The label value that distinct model ids past the cap fold into. */
export const OTHER_MODEL = 'other';
/** The label value of every model name no upstream serves (a 404, a typo, a hostile name). */
export const UNKNOWN_MODEL = 'unknown';

export type UpstreamOutcome = 'ok' | 'error' | 'timeout' | 'aborted';
export type DisconnectPhase = 'queued' | 'first_token' | 'thinking' | 'answer' | 'between_segments';

export const SEGMENT_CAUSES: readonly SegmentCause[] = ['initial', 'extend', 'close', 'continue', 'answer', 'converged'];

export interface ObserveChild {
  observe(value: number): void;
}
export interface IncChild {
  inc(value?: number): void;
}

/**
 * The series of one model label, bound once when the label is first seen, so a request
 * never hashes label sets on its hot path (prom-client's `labels()` does on every call).
 */
export interface ModelSeries {
  readonly label: string;
  readonly thinkingTokens: ObserveChild;
  readonly answerTokens: ObserveChild;
  readonly segments: ObserveChild;
  readonly extensions: IncChild;
  readonly truncations: IncChild;
  readonly segmentsByCause: Readonly<Record<SegmentCause, IncChild>>;
  readonly timeToFirstToken: ObserveChild;
  readonly timeToFirstAnswerToken: ObserveChild;
  readonly durationStream: ObserveChild;
  readonly durationNonStream: ObserveChild;
  readonly upstreamPromptTokens: IncChild;
  readonly upstreamCachedPromptTokens: IncChild;
  readonly outcomes: Readonly<Record<BudgetOutcome, IncChild>>;
  /** Early exit: probes run, the tokens they generated, and generations whose probes agreed. */
  readonly earlyExitProbes: IncChild;
  readonly earlyExitProbeTokens: IncChild;
  readonly earlyExits: IncChild;
  readonly requestedMax: ObserveChild;
  readonly requestedMin: ObserveChild;
  readonly thinkingDuration: ObserveChild;
}

/** Per-replica latency series, bound once per upstream. */
export interface UpstreamSeries {
  readonly timeToFirstToken: ObserveChild;
  readonly segmentDuration: ObserveChild;
}

export interface Metrics {
  readonly registry: Registry;
  readonly inflight: Gauge;
  /**
   * The bound series of a served `model` (of "other" once the cap of distinct labels is
   * reached); null, or the reserved labels themselves, give the "unknown" series. Callers pass
   * only names an upstream serves: every name passed here may become a label.
   */
  forModel(model: string | null): ModelSeries;
  /** Whether `model` already has its own series (it was found served before). */
  hasModel(model: string): boolean;
  /** One finished (or rejected) request, by a label forModel gave; RequestMetrics.end calls it. */
  countRequest(label: string, stream: boolean, status: number, route: string): void;
  upstreamRequest(upstream: string, outcome: UpstreamOutcome): void;
  /** A failed start retried on another replica (before the first byte). */
  upstreamRetry(upstream: string): void;
  /**
   * A chat first segment sent to `upstream` (routing.first_segment: chat): `used` (the engine took
   * its stream), `unused` (the engine's first request was another one: the stream was closed and
   * the request went to /v1/completions), `refused` (it failed before its prompt ids: the
   * /tokenize path answered, or on a timeout the attempt failed).
   */
  chatFirstSegment(upstream: string, outcome: ChatFirstOutcome): void;
  /** A request relayed unchanged (scoring /v1/completions, the tokenizer routes), by why and final status. */
  relayed(route: string, reason: string, status: number): void;
  /** Admission queue: its depth now, and how long an admitted request waited (seconds). */
  queueDepth(depth: number): void;
  queueWait(seconds: number): void;
  setUpstreamHealthy(upstream: string, healthy: boolean): void;
  clientDisconnect(phase: DisconnectPhase): void;
  forUpstream(upstream: string): UpstreamSeries;
  requestAborted(reason: AbortReason): void;
}

export interface BuildInfo {
  version: string;
  commit?: string;
  /** Defaults to the running Node version. */
  node?: string;
}

export interface MetricsOptions {
  maxModelLabels?: number;
  /**
   * prom-client's default metrics (CPU, memory, fds, event-loop lag, heap, GC), prefixed
   * `thinkgate_` so they read `thinkgate_process_*` and `thinkgate_nodejs_*` (a
   * `thinkgate_process_` prefix would give `thinkgate_process_process_cpu_...`). Off by
   * default: they install a GC PerformanceObserver and an event-loop-delay monitor that
   * prom-client never stops, so only the process's one long-lived app (index.ts) should ask.
   */
  processMetrics?: boolean;
}

