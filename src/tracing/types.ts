/**
 * What the app sees of tracing (tracing.ts builds it: NO_TRACING off, otel.ts on). Apart from
 * both, so that otel.ts, loaded only when tracing is on, and tracing.ts do not import each other.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestInfo, RequestTrace } from './request-trace.js';

export interface Tracing {
  readonly enabled: boolean;
  /**
   * The request's server span, continuing the client's W3C `traceparent` when it sent a valid
   * one; undefined when tracing is off.
   */
  startRequest(headers: IncomingHttpHeaders, info: RequestInfo): RequestTrace | undefined;
  /** Ends export: flushes the spans still queued. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  version: string;
  /** Batch delay (ms); tests shorten it. Default the SDK's (5 s, or OTEL_BSP_SCHEDULE_DELAY). */
  scheduledDelayMs?: number;
}
