/**
 * Configuration: a YAML file (THINKGATE_CONFIG) overlaid by environment variables, validated with
 * zod, returned deep-frozen. Bad configuration throws one ConfigError listing every problem with
 * its path (docs/configuration.md), so an operator fixes them all in one round. Unknown file keys
 * are errors, except keys starting with `x-` (for YAML anchors). Every default comes from
 * defaults.ts.
 */
import { readFileSync } from 'node:fs';
import { defaultOf as d } from './defaults.js';
import { CONFIG_FILE_ENV, readEnv, type ConfigEnv } from './env.js';
import { readTracing } from './tracing.js';
import { buildProfiles, checkBudget, definedOnly, readModels } from './profiles.js';
import { TOP_LEVEL_KEYS, fileSections, isPlainObject, joinPath, zodProblems, type FileSections } from './schema.js';
import { ConfigError, type Config } from './types.js';
import { resolveUpstreams } from './upstreams.js';
import { readNamedKeys } from './named-keys.js';
import { parseYaml } from './yaml.js';

interface FileParts {
  sections: FileSections;
  upstreams?: unknown;
  profiles?: unknown;
  models?: unknown;
}

function readFileParts(raw: unknown, source: string | undefined, problems: string[]): FileParts {
  const parts: FileParts = { sections: {} };
  if (raw === undefined || raw === null) return parts; // no file, or an empty one
  if (!isPlainObject(raw)) {
    problems.push(`${source ?? 'config'}: must be a mapping at the top level`);
    return parts;
  }
  for (const key of Object.keys(raw)) {
    if (!key.startsWith('x-') && !TOP_LEVEL_KEYS.includes(key)) {
      problems.push(`${joinPath('', [key])}: unknown key (known: ${TOP_LEVEL_KEYS.join(', ')})`);
    }
  }
  for (const key of Object.keys(fileSections) as (keyof typeof fileSections)[]) {
    if (raw[key] === undefined) continue;
    const parsed = fileSections[key].safeParse(raw[key]);
    if (parsed.success) (parts.sections as Record<string, unknown>)[key] = parsed.data;
    else problems.push(...zodProblems(parsed.error, key, key));
  }
  return { ...parts, upstreams: raw['upstreams'], profiles: raw['profiles'], models: raw['models'] };
}

function assemble(raw: unknown, env: ConfigEnv, source: string | undefined, early: readonly string[]): Config {
  const problems = [...early];
  const envProblems: string[] = [];
  const e = readEnv(env, envProblems);
  const file = readFileParts(raw, source, problems);
  const upstreams = resolveUpstreams(file.upstreams, e, problems, early.length > 0);
  const explicitDefaults = definedOnly(file.sections.defaults ?? {});
  const defaults = {
    max_thinking_extensions: d('defaults.max_thinking_extensions'),
    thinking_extension: d('defaults.thinking_extension'),
    ...explicitDefaults,
  };
  checkBudget('defaults', defaults, problems);
  const { profiles, names } = buildProfiles(file.profiles, problems);
  const models = readModels(file.models, names, defaults, problems);
  problems.push(...envProblems);
  const connections = readConnections(file.sections.server, problems);
  const apiKeys = e.apiKeys ?? file.sections.auth?.api_keys ?? d('auth.api_keys');
  const namedKeys = readNamedKeys(file.sections.auth?.keys, apiKeys, problems);
  const tracing = readTracing(env, file.sections.tracing?.enabled, problems);
  if (problems.length > 0) throw new ConfigError(problems, source === undefined ? 'environment' : `${source} and environment`);

  const { server, auth, response, limits, quota, routing, timeouts, health } = file.sections;
  const redisUrl = e.quotaRedisUrl ?? quota?.redis_url;
  return deepFreeze<Config>({
    host: e.host ?? server?.host ?? d('server.host'),
    port: e.port ?? server?.port ?? d('server.port'),
    logLevel: e.logLevel ?? server?.log_level ?? d('server.log_level'),
    logFlushMs: server?.log_flush_ms ?? d('server.log_flush_ms'),
    apiKeys,
    namedKeys,
    quota: {
      ...(redisUrl !== undefined ? { redisUrl } : {}),
      onRedisError: quota?.on_redis_error ?? d('quota.on_redis_error'),
      redisTimeoutMs: quota?.redis_timeout_ms ?? d('quota.redis_timeout_ms'),
      chargeEveryTokens: quota?.charge_every_tokens ?? d('quota.charge_every_tokens'),
      redisPrefix: quota?.redis_prefix ?? d('quota.redis_prefix'),
    },
    upstreams,
    profiles,
    models,
    defaults,
    explicitDefaults,
    reasoningFields: [...new Set(response?.reasoning_fields ?? d('response.reasoning_fields'))],
    maxTokensPerChunk: response?.max_tokens_per_chunk ?? d('response.max_tokens_per_chunk'),
    limits: {
      bodyLimitBytes: e.bodyLimitBytes ?? limits?.body_limit_bytes ?? d('limits.body_limit_bytes'),
      maxUpstreamResponseBytes: limits?.max_upstream_response_bytes ?? d('limits.max_upstream_response_bytes'),
      maxRelayResponseBytes: limits?.max_relay_response_bytes ?? d('limits.max_relay_response_bytes'),
      maxConcurrentRequests: e.maxConcurrent ?? limits?.max_concurrent_requests ?? d('limits.max_concurrent_requests'),
      maxQueue: limits?.max_queue ?? d('limits.max_queue'),
      queueTimeoutMs: limits?.queue_timeout_ms ?? d('limits.queue_timeout_ms'),
      perKeyMaxConcurrent: limits?.per_key_max_concurrent ?? d('limits.per_key_max_concurrent'),
      maxChoicesPerRequest: limits?.max_choices_per_request ?? d('limits.max_choices_per_request'),
      maxThinkingExtensions: limits?.max_thinking_extensions ?? d('limits.max_thinking_extensions'),
      maxSegmentsPerChoice: limits?.max_segments_per_choice ?? d('limits.max_segments_per_choice'),
      maxUpstreamBytesPerRequest: limits?.max_upstream_bytes_per_request ?? d('limits.max_upstream_bytes_per_request'),
    },
    routing: {
      retries: routing?.retries ?? d('routing.retries'),
      retryBackoffMs: routing?.retry_backoff_ms ?? d('routing.retry_backoff_ms'),
      affinity: routing?.affinity ?? d('routing.affinity'),
      firstSegment: routing?.first_segment ?? d('routing.first_segment'),
      media: routing?.media ?? d('routing.media'),
    },
    timeouts: {
      connectMs: timeouts?.connect_ms ?? d('timeouts.connect_ms'),
      firstTokenMs: timeouts?.first_token_ms ?? d('timeouts.first_token_ms'),
      idleMs: timeouts?.idle_ms ?? d('timeouts.idle_ms'),
      requestMs: timeouts?.request_ms ?? d('timeouts.request_ms'),
    },
    health: { intervalMs: health?.interval_ms ?? d('health.interval_ms'), timeoutMs: health?.timeout_ms ?? d('health.timeout_ms') },
    drainTimeoutMs: e.drainTimeoutMs ?? server?.drain_timeout_ms ?? d('server.drain_timeout_ms'),
    sseKeepAliveMs: server?.sse_keepalive_ms ?? d('server.sse_keepalive_ms'),
    connections,
    metricsAuth: auth?.metrics ?? d('auth.metrics'),
    tracing,
  });
}

function readConnections(server: FileSections['server'], problems: string[]): Config['connections'] {
  const c = {
    requestTimeoutMs: server?.request_timeout_ms ?? d('server.request_timeout_ms'),
    headersTimeoutMs: server?.headers_timeout_ms ?? d('server.headers_timeout_ms'),
    keepAliveTimeoutMs: server?.keep_alive_timeout_ms ?? d('server.keep_alive_timeout_ms'),
    maxConnections: server?.max_connections ?? d('server.max_connections'),
  };
  // Node refuses a server whose headers deadline is later than its whole-request deadline.
  if (c.headersTimeoutMs > c.requestTimeoutMs) {
    problems.push(`server.headers_timeout_ms: ${c.headersTimeoutMs} exceeds server.request_timeout_ms ${c.requestTimeoutMs}`);
  }
  return c;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The configuration from `env` (usually process.env): THINKGATE_CONFIG's YAML file, if set, with
 * the environment variables over it. Throws ConfigError listing every problem.
 */
export function loadConfig(env: ConfigEnv, opts: { readFile?: (path: string) => string } = {}): Config {
  const path = env[CONFIG_FILE_ENV]?.trim();
  if (path === undefined || path === '') return assemble(undefined, env, undefined, []);
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = parseYaml(readFile(path), path, problems);
  } catch (err) {
    problems.push(`${CONFIG_FILE_ENV}: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return assemble(raw, env, path, problems);
}

/** The same validation for an already-parsed file (tests, embedders). THINKGATE_CONFIG is ignored. */
export function loadConfigFromObject(obj: unknown, env: ConfigEnv = {}): Config {
  return assemble(obj, env, undefined, []);
}

/** For tests and tools: a YAML text as if it were the config file at `path`. */
export function loadConfigFromYaml(text: string, env: ConfigEnv = {}, path = 'config.yaml'): Config {
  const problems: string[] = [];
  const raw = parseYaml(text, path, problems);
  return assemble(raw, env, path, problems);
}
