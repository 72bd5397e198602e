/**
 * `upstreams` from the file, or THINKGATE_UPSTREAMS over it, with THINKGATE_UPSTREAM_API_KEY for
 * those without a key of their own. Each entry is checked on its own; duplicates are errors.
 */
import type { EnvValues } from './env.js';
import { isPlainObject, normalizeUrl, upstreamSchema, zodProblems } from './schema.js';
import type { UpstreamConfig } from './types.js';

/** Each entry checked on its own, so a bad one hides no duplicate. Invalid entries are left out. */
function readUpstreams(raw: unknown, problems: string[]): UpstreamConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    problems.push('upstreams: must be a list of URLs or {url, api_key}');
    return [];
  }
  return raw.flatMap((value: unknown, i) => {
    if (typeof value !== 'string' && !isPlainObject(value)) {
      problems.push(`upstreams[${i}]: must be a URL or {url, api_key}`);
      return [];
    }
    const parsed = upstreamSchema.safeParse(value);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, `upstreams[${i}]`, `upstreams[${i}]`));
      return [];
    }
    const { url, api_key, kind, keep_alive_timeout_ms, max_connections } = parsed.data;
    return [
      {
        url: normalizeUrl(url),
        ...(api_key !== undefined && { apiKey: api_key }),
        ...(kind !== undefined && { kind }),
        ...(keep_alive_timeout_ms !== undefined && { keepAliveTimeoutMs: keep_alive_timeout_ms }),
        ...(max_connections !== undefined && { maxConnections: max_connections }),
      },
    ];
  });
}

export function resolveUpstreams(raw: unknown, e: EnvValues, problems: string[], fileUnread: boolean): UpstreamConfig[] {
  const fromFile = readUpstreams(raw, problems);
  const upstreams: UpstreamConfig[] = e.upstreams?.map((url) => ({ url })) ?? fromFile;
  for (const u of upstreams) if (u.apiKey === undefined && e.upstreamApiKey !== undefined) u.apiKey = e.upstreamApiKey;
  const path = (i: number) => (e.upstreams ? `THINKGATE_UPSTREAMS[${i}]` : `upstreams[${i}].url`);
  upstreams.forEach((u, i) => {
    const j = upstreams.findIndex((v) => v.url === u.url);
    if (j < i) problems.push(`${path(i)}: duplicate of ${path(j)}`);
  });
  // Not when the file is unreadable or its list is broken: that problem is listed already.
  const listedEmpty = raw === undefined || (Array.isArray(raw) && raw.length === 0);
  if (upstreams.length === 0 && listedEmpty && !fileUnread && e.upstreams === undefined) {
    problems.push('upstreams: at least one is required (THINKGATE_UPSTREAMS or `upstreams:` in the config file)');
  }
  return upstreams;
}
