/** What the routes share, owned by buildApp (no globals: each app has its own). */
import type { Config } from './config/index.js';
import type { ProfileResolver } from './engine/resolve-profile.js';
import type { Metrics } from './metrics/metrics.js';
import type { ProfileRegistry } from './profiles/registry.js';
import type { UpstreamPool } from './replicas/upstream-pool.js';
import type { ConcurrencyLimiter } from './http/limiter.js';
import type { KeyLimits } from './http/key-limits.js';
import type { QuotaGovernor } from './quota/index.js';
import type { KeyMetrics } from './metrics/key-metrics.js';
import type { RetryPolicy } from './replicas/retry-policy.js';
import type { Tracing } from './tracing/tracing.js';

export interface AppContext {
  config: Config;
  pool: UpstreamPool;
  registry: ProfileRegistry;
  resolver: ProfileResolver;
  metrics: Metrics;
  limiter: ConcurrencyLimiter;
  keyLimits: KeyLimits;
  /** Named-key policies: admission and metering (quota/governor.ts). */
  quota: QuotaGovernor;
  keyMetrics: KeyMetrics;
  retry: RetryPolicy;
  /** OpenTelemetry tracing (tracing/tracing.ts): NO_TRACING unless configured. */
  tracing: Tracing;
  /** Milliseconds since the epoch; injected so tests control time. */
  now: () => number;
  /** Response ids: `chatcmpl-...` for chat, `cmpl-...` for completions (the prefix is the route's). */
  newId: (prefix: string) => string;
  /** Set while draining: new requests get 503, /ready says not ready. */
  draining: boolean;
  /** Aborted at the drain deadline: in-flight requests end with a 503 error (an SSE error event). */
  shutdown: AbortController;
  /** `METHOD /path` of every registered route (the OpenAPI test compares it with openapi.yaml). */
  routes: string[];
}
