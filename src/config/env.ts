/**
 * The environment variables (names: defaults.ts). Environment values win over the file; an empty
 * variable counts as unset (so `THINKGATE_API_KEYS=` from a compose file never opens a gateway the
 * file protects); numbers are digits only.
 */
import { envOf } from './defaults.js';
import { LOG_LEVELS, type LogLevel } from './types.js';
import { MAX_TIMER_MS, intMessage, normalizeUrl, urlProblem } from './schema.js';

export interface EnvValues {
  host?: string;
  port?: number;
  logLevel?: LogLevel;
  apiKeys?: string[];
  upstreams?: string[];
  upstreamApiKey?: string;
  bodyLimitBytes?: number;
  maxConcurrent?: number;
  drainTimeoutMs?: number;
  quotaRedisUrl?: string;
}

/** What loadConfig reads variables from (usually process.env). */
export type ConfigEnv = NodeJS.ProcessEnv | Record<string, string | undefined>;

/** The path of the YAML file; the only variable without a file key. */
export const CONFIG_FILE_ENV = 'THINKGATE_CONFIG';

/** The variables that are set, parsed; a bad one is a problem and left out. */
export function readEnv(env: ConfigEnv, problems: string[]): EnvValues {
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : NaN; // digits only: no "8e3", "0x1f", "-1", "1.5"
    if (n >= min && n <= max) return n;
    problems.push(`${name}: ${intMessage(min, max)}`);
    return undefined;
  };
  const list = (name: string): string[] | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) problems.push(`${name}: must list at least one value`);
    return items.length === 0 ? undefined : items;
  };
  const out: EnvValues = {};
  const set = <K extends keyof EnvValues>(k: K, v: EnvValues[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('host', get(envOf('server.host')));
  set('port', integer(envOf('server.port'), 0, 65535));
  const level = get(envOf('server.log_level'));
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    problems.push(`${envOf('server.log_level')}: must be one of ${LOG_LEVELS.join(', ')}`);
  } else set('logLevel', level as LogLevel | undefined);
  set('apiKeys', list(envOf('auth.api_keys')));
  const upstreams = list(envOf('upstreams'));
  upstreams?.forEach((u, i) => {
    const why = urlProblem(u);
    if (why !== undefined) problems.push(`${envOf('upstreams')}[${i}]: ${why}`);
  });
  set('upstreams', upstreams?.map(normalizeUrl));
  set('upstreamApiKey', get(envOf('upstreams[].api_key')));
  set('bodyLimitBytes', integer(envOf('limits.body_limit_bytes'), 1));
  set('maxConcurrent', integer(envOf('limits.max_concurrent_requests'), 1));
  set('drainTimeoutMs', integer(envOf('server.drain_timeout_ms'), 0, MAX_TIMER_MS));
  const redis = get(envOf('quota.redis_url'));
  if (redis !== undefined && !/^rediss?:\/\/\S+$/.test(redis)) problems.push(`${envOf('quota.redis_url')}: must be a redis:// or rediss:// URL`);
  else set('quotaRedisUrl', redis);
  return out;
}
