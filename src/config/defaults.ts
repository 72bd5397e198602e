/**
 * The one table of settings: file key, environment variable, default, meaning. The loader reads its
 * defaults and variable names from here (load.ts, env.ts); test/unit/config-table.test.ts checks
 * that the README's Configuration table and docs/configuration.md list every key with the same
 * default, and that the schema (schema.ts) has exactly these keys, in this order, per section.
 *
 * Keys without a `default` have none (the meaning says what their absence does). `profiles` and
 * `models` are structured (docs/configuration.md, "Profiles and models") and not rows here.
 */
export interface Setting {
  /** The variable that overrides the file key (environment wins; an empty variable is unset). */
  readonly env?: string;
  readonly default?: string | number | readonly string[];
  readonly meaning: string;
}

const MiB = 1024 * 1024;

export const SETTINGS = Object.freeze({
  upstreams: {
    env: 'THINKGATE_UPSTREAMS',
    meaning: 'Server roots, at least one (the variable: comma-separated, replacing the file list)',
  },
  'upstreams[].api_key': { env: 'THINKGATE_UPSTREAM_API_KEY', meaning: 'Bearer key for an upstream (the variable: every upstream without its own)' },
  'upstreams[].kind': { default: 'vllm', meaning: '`vllm` or `llamacpp` (llama.cpp\'s llama-server)' },
  'upstreams[].keep_alive_timeout_ms': {
    default: 4_000,
    meaning: "Idle upstream sockets close after it; keep it under the server's own idle close (uvicorn's 5 s)",
  },
  'upstreams[].max_connections': { default: 0, meaning: 'Sockets to the upstream at once; 0 = no cap (one per concurrent segment)' },

  'server.host': { env: 'THINKGATE_HOST', default: '0.0.0.0', meaning: 'Listen address' },
  'server.port': { env: 'THINKGATE_PORT', default: 8080, meaning: 'Listen port, 0-65535 (0 = any free port)' },
  'server.log_level': { env: 'THINKGATE_LOG_LEVEL', default: 'info', meaning: 'pino level' },
  'server.log_flush_ms': {
    default: 1_000,
    meaning: 'Log lines are written together: when 4 KiB gather, at a warn or error line, on exit, and at least this often; 0 writes each line at once',
  },
  'server.drain_timeout_ms': { env: 'THINKGATE_DRAIN_TIMEOUT_MS', default: 30_000, meaning: 'On SIGTERM, how long in-flight requests may run' },
  'server.sse_keepalive_ms': { default: 15_000, meaning: 'Interval of `: keep-alive` comments on idle streams; 0 disables' },
  'server.request_timeout_ms': { default: 60_000, meaning: 'The whole request (headers + body) must arrive within it, else 408' },
  'server.headers_timeout_ms': { default: 15_000, meaning: 'The headers must arrive within it (at most request_timeout_ms)' },
  'server.keep_alive_timeout_ms': { default: 72_000, meaning: 'Idle keep-alive connections close after it' },
  'server.max_connections': { default: 8192, meaning: 'Client connections open at once; more are dropped on accept' },

  'auth.api_keys': { env: 'THINKGATE_API_KEYS', default: [], meaning: 'Client keys; empty = every route open (the variable: comma-separated)' },
  'auth.keys': { meaning: 'Named keys with policies (caps on M and n, thinking quota, request rate); docs/configuration.md, "Named keys"' },
  'auth.metrics': { default: 'open', meaning: '`api_key`: /metrics needs a key too' },

  'defaults.max_thinking_tokens': { meaning: 'M of every model; unset = only max_completion_tokens and the context bound thinking' },
  'defaults.min_thinking_tokens': { meaning: 'm of every model; unset = 0' },
  'defaults.max_thinking_extensions': { default: 8, meaning: 'E of every model' },
  'defaults.thinking_extension': { default: 'Wait', meaning: "The extension phrase; set, it wins over a profile's own" },

  'response.reasoning_fields': { default: ['reasoning_content', 'reasoning'], meaning: 'Which names carry the thinking text; at least one' },
  'response.max_tokens_per_chunk': {
    default: 16,
    meaning: 'Most upstream tokens of one socket read merged into one streamed chunk (no waiting: only what arrived together); 1 = a chunk per upstream token',
  },

  'limits.body_limit_bytes': { env: 'THINKGATE_BODY_LIMIT_BYTES', default: 8 * MiB, meaning: 'Largest request body (413 above)' },
  'limits.max_upstream_response_bytes': { default: 16 * MiB, meaning: 'Largest upstream body or SSE event read whole (502 above)' },
  'limits.max_relay_response_bytes': { default: 256 * MiB, meaning: 'Longest relayed response (streamed; cut above)' },
  'limits.max_concurrent_requests': { env: 'THINKGATE_MAX_CONCURRENT', default: 1024, meaning: 'Requests served at once; more wait in the queue' },
  'limits.max_queue': { default: 1024, meaning: 'Requests waiting; more get 429' },
  'limits.queue_timeout_ms': { default: 30_000, meaning: 'Longest wait in the queue, then 429' },
  'limits.per_key_max_concurrent': { default: 0, meaning: 'Concurrent requests per API key; 0 = no per-key limit' },
  'limits.max_choices_per_request': { default: 128, meaning: 'Runs of one request (prompts x n); above, 400' },
  'limits.max_thinking_extensions': { default: 32, meaning: "Ceiling on a request's E (larger values are clamped)" },
  'limits.max_segments_per_choice': { default: 64, meaning: 'Upstream calls of one choice; at the ceiling the choice ends with `length`' },
  'limits.max_upstream_bytes_per_request': { default: 256 * MiB, meaning: 'Bytes one request may send upstream, all segments together; above, 400' },

  'quota.redis_url': { env: 'THINKGATE_QUOTA_REDIS_URL', meaning: '`redis://` URL of the Redis every pod shares quotas and rates through; unset = in this process only' },
  'quota.on_redis_error': { default: 'open', meaning: '`open`: admit and leave unmetered while Redis fails; `closed`: refuse with 503' },
  'quota.redis_timeout_ms': { default: 250, meaning: 'Deadline of one Redis call (a hung Redis counts as down)' },
  'quota.charge_every_tokens': { default: 256, meaning: 'Thinking tokens a stream may run ahead of its charge (also charged at each segment end)' },
  'quota.redis_prefix': { default: 'thinkgate:', meaning: 'Prefix of every Redis key thinkgate writes' },

  'tracing.enabled': {
    meaning:
      'OpenTelemetry traces over OTLP/HTTP: `true` on, `false` off; unset: on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (docs/configuration.md, "Tracing")',
  },

  'routing.retries': { default: 2, meaning: 'Retries on another replica before the first byte (0-10)' },
  'routing.retry_backoff_ms': { default: 100, meaning: 'Backoff base (doubles per retry, jittered)' },
  'routing.affinity': { default: 'none', meaning: '`prefix`: same conversation start -> same replica' },
  'routing.first_segment': {
    default: 'chat',
    meaning: '`chat`: a chat request\'s first segment through vLLM\'s /v1/chat/completions, one round trip less before the first token, where the template opens thinking (vLLM >= 0.13; elsewhere the /tokenize path); `tokenize`: always /tokenize, then /v1/completions',
  },

  'routing.media': {
    default: 'render',
    meaning: '`render`: chat requests with image, audio or video parts are rendered by vLLM (/v1/chat/completions/render, --enable-scale-out) and every segment carries the media; `refuse`: a 400 naming the part',
  },

  'timeouts.connect_ms': { default: 5_000, meaning: 'Connecting to an upstream' },
  'timeouts.first_token_ms': { default: 600_000, meaning: 'First token of a segment (a long prompt on a busy server)' },
  'timeouts.idle_ms': { default: 120_000, meaning: 'Silence between tokens' },
  'timeouts.request_ms': { default: 30_000, meaning: 'Whole non-streaming upstream calls (/tokenize, /v1/models)' },

  'health.interval_ms': { default: 5_000, meaning: 'Upstream health probe interval' },
  'health.timeout_ms': { default: 2_000, meaning: 'Deadline of one probe; a failure that came back 0.5 s past it (a blocked event loop) counts only when the next probe fails too' },
} as const satisfies Record<string, Setting>);

export type SettingKey = keyof typeof SETTINGS;
type Row<K extends SettingKey> = (typeof SETTINGS)[K];
/** Keys that have a default. */
export type DefaultedKey = { [K in SettingKey]: Row<K> extends { default: unknown } ? K : never }[SettingKey];
/** Keys that have an environment variable. */
export type EnvKey = { [K in SettingKey]: Row<K> extends { env: string } ? K : never }[SettingKey];

/** The default of `key`, as the table types it (8080, 'info', ...). */
export function defaultOf<K extends DefaultedKey>(key: K): Row<K> extends { default: infer D } ? D : never {
  return (SETTINGS[key] as { default: unknown }).default as Row<K> extends { default: infer D } ? D : never;
}

/** The environment variable of `key`. */
export function envOf<K extends EnvKey>(key: K): Row<K> extends { env: infer E } ? E : never {
  return (SETTINGS[key] as { env: unknown }).env as Row<K> extends { env: infer E } ? E : never;
}

/** A default as the docs write it: `8080`, `info`, `[reasoning_content, reasoning]`, `[]`. */
export function formatDefault(value: Setting['default']): string {
  return Array.isArray(value) ? `[${value.join(', ')}]` : String(value);
}
