/**
 * OpenTelemetry tracing, owned by one app (buildApp builds it, closes it). Off (config/tracing.ts),
 * `createTracing` returns NO_TRACING without loading the SDK at all (its modules cost ~26 MB of
 * RSS and ~170 ms at start-up): no provider, no exporter, no span objects; a request pays one
 * `undefined` check. On, the SDK side is otel.ts.
 */
import type { TracingConfig } from '../config/tracing.js';
import type { Tracing, TracingOptions } from './types.js';

export type { Tracing, TracingOptions } from './types.js';

export const NO_TRACING: Tracing = {
  enabled: false,
  startRequest: () => undefined,
  shutdown: async () => {},
};

export async function createTracing(cfg: TracingConfig, opts: TracingOptions): Promise<Tracing> {
  if (!cfg.enabled) return NO_TRACING;
  const { createOtelTracing } = await import('./otel.js');
  return createOtelTracing(cfg, opts);
}
