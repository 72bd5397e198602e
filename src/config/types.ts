/**
 * What loadConfig returns (Config) and how it fails (ConfigError). Defaults: defaults.ts; the
 * file's shape: schema.ts; docs/configuration.md explains every key.
 */
import type { KeyPolicy, QuotaSettings } from '../quota/policy.js';
import type { BudgetDefaults, GlobalDefaults, ModelRule, Profile } from '../profiles/profile.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const REASONING_FIELDS = ['reasoning_content', 'reasoning'] as const;
export type ReasoningField = (typeof REASONING_FIELDS)[number];

/** Which server protocol an upstream speaks (src/backends/create-backend.ts picks the Backend). */
export const UPSTREAM_KINDS = ['vllm', 'llamacpp'] as const;
export type UpstreamKind = (typeof UPSTREAM_KINDS)[number];

export interface UpstreamConfig {
  /** vLLM server root, no trailing slash: thinkgate appends `/tokenize`, `/v1/completions`. */
  url: string;
  apiKey?: string;
  /** `vllm` or `llamacpp` (llama.cpp's llama-server); absent means `vllm`. */
  kind?: UpstreamKind;
  /** Idle sockets to it close after this (upstreams[].keep_alive_timeout_ms; absent: the table's default). */
  keepAliveTimeoutMs?: number;
  /** Sockets to it at once; 0 = no cap (upstreams[].max_connections; absent: the table's default). */
  maxConnections?: number;
}

export type { ModelRule };

export interface Config {
  host: string;
  port: number;
  logLevel: LogLevel;
  /** Longest a log line waits in the buffer; 0 = each line written at once (logging/destination.ts). */
  logFlushMs: number;
  /** [] = open (no auth). */
  apiKeys: readonly string[];
  /** `auth.keys`: named keys with policies (a key here also opens the gateway's routes). */
  namedKeys: readonly KeyPolicy[];
  /** Where quotas and request rates are kept (quota/governor.ts). */
  quota: QuotaSettings;
  /** At least one. */
  upstreams: readonly UpstreamConfig[];
  /** Built-ins plus operator profiles (an operator entry may override a built-in by name). Null prototype. */
  profiles: Readonly<Record<string, Profile>>;
  models: readonly ModelRule[];
  defaults: GlobalDefaults;
  /** What the file's `defaults:` section set, without the built-in fallbacks (PolicyConfig). */
  explicitDefaults: Readonly<BudgetDefaults>;
  reasoningFields: readonly ReasoningField[];
  /** Ids of one upstream read merged into one delta at most (backends/coalesce.ts); 1 = none merged. */
  maxTokensPerChunk: number;
  limits: {
    bodyLimitBytes: number;
    /** Most bytes buffered of one upstream answer: a whole /tokenize or /v1/models body, one SSE event. */
    maxUpstreamResponseBytes: number;
    /** Most bytes of one relayed response (streamed, never buffered). */
    maxRelayResponseBytes: number;
    maxConcurrentRequests: number;
    maxQueue: number;
    queueTimeoutMs: number;
    /** Concurrent requests per API key (0 = no per-key limit); past it, 429. */
    perKeyMaxConcurrent: number;
    /** Issue 11 items 2, 4, 7: what one request may cost (runs, extensions, segments, upstream bytes). */
    maxChoicesPerRequest: number;
    maxThinkingExtensions: number;
    maxSegmentsPerChoice: number;
    maxUpstreamBytesPerRequest: number;
  };
  /** How requests pick and change replicas. */
  routing: {
    /** Further attempts on another replica for a start that failed before the first byte. */
    retries: number;
    /** Backoff base before retry k: base * 2^k, jittered. */
    retryBackoffMs: number;
    /** `prefix`: prefer the replica a hash of the conversation's start picks (cross-turn prefix cache). */
    affinity: 'none' | 'prefix';
    /**
     * `chat`: a chat request's first segment through vLLM's /v1/chat/completions, without the
     * /tokenize round trip, where the template opens thinking (runs/chat-first-segment.ts).
     */
    firstSegment: 'tokenize' | 'chat';
    /**
     * `render`: a chat request with media parts is rendered by vLLM with its media and every
     * segment carries it (docs/multimodal.md); `refuse`: such a request is a 400 naming the part.
     */
    media: 'render' | 'refuse';
  };
  timeouts: { connectMs: number; firstTokenMs: number; idleMs: number; requestMs: number };
  health: { intervalMs: number; timeoutMs: number };
  drainTimeoutMs: number;
  /** 0 disables keep-alives. */
  sseKeepAliveMs: number;
  /**
   * Bounds on the client side of the socket (docs: Operations). Node's own defaults leave a
   * trickled body or a silent half-sent header open forever; these close them.
   */
  connections: {
    /** Whole request (headers and body) must arrive within this (Node's server.requestTimeout); the response is not bounded by it. */
    requestTimeoutMs: number;
    /** Headers must arrive within this (server.headersTimeout); at most requestTimeoutMs. */
    headersTimeoutMs: number;
    /** An idle keep-alive connection is closed after this (above a load balancer's idle timeout). */
    keepAliveTimeoutMs: number;
    /** Open client connections at once; more are refused by the kernel's accept path (server.maxConnections). */
    maxConnections: number;
  };
  /** `open`: /metrics needs no key (Prometheus scrapes in-cluster); `api_key`: it needs one of auth.api_keys. */
  metricsAuth: 'open' | 'api_key';
  /** OpenTelemetry tracing (config/tracing.ts): off unless asked for. */
  tracing: TracingConfig;
}

/** Every configuration problem at once, one `path: message` per line. Not a ThinkgateError: it never reaches a client. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source = 'environment') {
    const n = problems.length;
    super(`Invalid thinkgate configuration (${source}), ${n} problem${n === 1 ? '' : 's'}:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

// ---- tracing (read by config/tracing.ts) ----

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

/**
 * The OTLP/HTTP encodings this build exports (OTEL_EXPORTER_OTLP_PROTOCOL's values less `grpc`).
 * `http/protobuf` is the spec's default (opentelemetry.io/docs/specs/otel/protocol/exporter/,
 * "Specify Protocol"): what a Collector, Jaeger, Tempo and the vendors' endpoints all accept.
 */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingConfig {
  enabled: boolean;
  /** Where spans are POSTed (OTLP/HTTP): a full URL, `/v1/traces` included. */
  endpoint: string;
  /** The body's encoding: protobuf (the default) or JSON. */
  protocol: OtlpProtocol;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded. */
  resourceAttributes: Readonly<Record<string, string>>;
  sampler: SamplerName;
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the ratio samplers (0..1). */
  samplerRatio: number;
}
