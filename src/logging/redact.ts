/**
 * What may reach a log. Upstream text (error bodies, tracebacks, the chunk a stream choked on)
 * can carry credentials: a vLLM traceback prints its request and settings, a proxy's error
 * page echoes headers. Clients get a stable message (src/backends/upstream-errors.ts); the
 * upstream's words go to the debug log only, through `redactSecrets`. Query strings are never
 * logged: `?api_key=...` is how some clients send keys.
 */
import type { FastifyBaseLogger } from 'fastify';
import { ThinkgateError } from '../errors.js';

/** Longest upstream text kept in one debug line. */
const MAX_DETAIL_CHARS = 2000;

const KEY_NAMES = String.raw`(?:api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|token|secret|client[_-]?secret|password|passwd|pwd|authorization|x-api-key|hf[_-]?token|session)`;

/**
 * `name=value`, `name: value`, `"name": "value"`, `'name': 'value'` (JSON, Python dict reprs in
 * tracebacks, query strings, headers), `Bearer xyz`, URL credentials, and bare key-shaped
 * tokens (OpenAI `sk-...`, Hugging Face `hf_...`, JWTs).
 */
const PATTERNS: readonly [RegExp, string][] = [
  [new RegExp(String.raw`(["']?\b${KEY_NAMES}["']?\s*[:=]\s*)(?:(["'])[^"'\n]*\2|(?:Bearer|Basic)\s+[^\s"',;&}]+|[^\s"',;&}]+)`, 'gi'), '$1[REDACTED]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/gi, '$1 [REDACTED]'],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, '$1[REDACTED]@'],
  [/\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}/g, '[REDACTED]'],
  [/\bhf_[A-Za-z0-9]{8,}/g, '[REDACTED]'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[REDACTED]'],
];

/** `text` with credentials replaced by `[REDACTED]`, cut to MAX_DETAIL_CHARS. */
export function redactSecrets(text: string): string {
  let t = text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
  for (const [re, to] of PATTERNS) t = t.replace(re, to);
  return t;
}

/** A URL as logged: the path only (its query string may hold a key). */
export function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Fastify's request serializer (fastify/lib/logger-pino.js) without the query string. Set on
 * the app's pino instance, it replaces Fastify's own (the instance's serializers win).
 */
export function reqSerializer(req: {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : pathOnly(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** Logs what the upstream said behind `err` (if anything) at debug, redacted. */
export function logUpstreamDetail(log: FastifyBaseLogger, err: unknown): void {
  if (!(err instanceof ThinkgateError)) return;
  const detail = err.upstreamDetail;
  if (detail === undefined || detail === '') return;
  log.debug({ code: err.code, upstream: redactSecrets(detail) }, 'upstream detail');
}
