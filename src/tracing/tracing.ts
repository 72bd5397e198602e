/**
 * OpenTelemetry tracing, owned by one app (buildApp builds it, closes it). Off (config/tracing.ts),
 * `createTracing` returns NO_TRACING without loading the SDK at all (its modules cost ~26 MB of
 * RSS and ~170 ms at start-up): no provider, no exporter, no span objects; a request pays one
 * `undefined` check. On, the SDK side is otel.ts.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from '../config/tracing.js';
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

export const NO_TRACING: Tracing = {
  enabled: false,
  startRequest: () => undefined,
  shutdown: async () => {},
};

export interface TracingOptions {
  version: string;
  /** Batch delay (ms); tests shorten it. Default the SDK's (5 s, or OTEL_BSP_SCHEDULE_DELAY). */
  scheduledDelayMs?: number;
}

export async function createTracing(cfg: TracingConfig, opts: TracingOptions): Promise<Tracing> {
  if (!cfg.enabled) return NO_TRACING;
  const { createOtelTracing } = await import('./otel.js');
  return createOtelTracing(cfg, opts);
}
