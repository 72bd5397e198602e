/**
 * API keys (config `auth.api_keys`, THINKGATE_API_KEYS): every route needs one, except an
 * explicit list of open routes. The rule is decided on the route the router MATCHED
 * (`request.routeOptions.url`), never on the raw request line: Fastify's router decodes
 * percent-escapes (`/%761/models` is `/v1/models`), accepts the absolute form
 * (`POST http://host/v1/... HTTP/1.1`) and whatever spelling a future router option admits, so a
 * check on `request.url` can be walked around (issue 11, item 1). Protected by default: a route
 * added tomorrow needs a key unless it is put on OPEN_ROUTES, and a request that matches no
 * route gets 401, not a 404 that maps the API for an anonymous caller.
 *
 * Keys are compared as SHA-256 digests with timingSafeEqual, so neither a key's content nor its
 * length leaks through timing; every configured key is compared on every request for the same
 * reason. Named keys (`auth.keys`, issue 17) are configured as a key or its SHA-256 and join the
 * same list: the matched entry's policy rides on the request (`keyPolicy`) for quota/governor.ts.
 * A list of 10,000 keys is 10,000 timingSafeEqual calls of 32 bytes: tens of microseconds.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthenticationError } from '../errors.js';
import type { KeyPolicy } from '../quota/policy.js';

/**
 * Routes any caller may reach when keys are set: orchestrator probes, the public contract, and
 * (unless `auth.metrics: api_key`) Prometheus's scrape. Matched route patterns, not raw URLs.
 */
export const OPEN_ROUTES: readonly string[] = ['/health', '/ready', '/openapi.yaml', '/metrics'];

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who is calling, for per-key limits: `key:<digest prefix>` of the matched configured key,
     * or, with auth off, of whatever bearer value came (advisory only: anyone can mint one).
     */
    apiKeyId: string;
    /** The policy of the named key (`auth.keys`) the request matched; undefined for any other caller. */
    keyPolicy: KeyPolicy | undefined;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The bearer value of an Authorization header, or undefined. */
export function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
}

/**
 * The key a request presents: `Authorization: Bearer <key>` (OpenAI's clients), else `x-api-key`
 * (Anthropic's clients, on every route alike: a key is a key whichever SDK sends it).
 */
export function presentedKey(headers: { authorization?: string; 'x-api-key'?: string | string[] }): string | undefined {
  const bearer = bearerOf(headers.authorization);
  if (bearer !== undefined) return bearer;
  const x = headers['x-api-key'];
  return typeof x === 'string' && x.trim() !== '' ? x.trim() : undefined;
}

export interface KeyMatch {
  id: string;
  policy?: KeyPolicy;
}

/** Checks a presented key (presentedKey) against the configured keys; returns the matched key. */
export function createKeyCheck(
  keys: readonly string[],
  named: readonly KeyPolicy[] = [],
): ((token: string | undefined) => KeyMatch) | null {
  if (keys.length === 0 && named.length === 0) return null;
  const digests = [...keys.map(digest), ...named.map((p) => Buffer.from(p.sha256, 'hex'))];
  const matches: KeyMatch[] = digests.map((d, i) => {
    const policy = i >= keys.length ? named[i - keys.length] : undefined;
    return policy === undefined ? { id: keyId(d) } : { id: keyId(d), policy };
  });
  return (token) => {
    if (token === undefined) {
      throw new AuthenticationError('You did not provide an API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".');
    }
    const given = digest(token);
    let match = -1;
    for (let i = 0; i < digests.length; i++) if (timingSafeEqual(digests[i]!, given) && match < 0) match = i;
    if (match < 0) throw new AuthenticationError('Incorrect API key provided.');
    return matches[match]!;
  };
}

const keyId = (d: Buffer): string => `key:${d.subarray(0, 12).toString('base64url')}`;

/** The route-level rule, one onRequest hook for the whole app (runs before any body is read). */
export function registerAuth(
  app: FastifyInstance,
  opts: { apiKeys: readonly string[]; namedKeys?: readonly KeyPolicy[]; metricsAuth: 'open' | 'api_key' },
): void {
  const open = new Set(OPEN_ROUTES.filter((r) => !(r === '/metrics' && opts.metricsAuth === 'api_key')));
  const check = createKeyCheck(opts.apiKeys, opts.namedKeys);
  app.decorateRequest('apiKeyId', '');
  app.decorateRequest('keyPolicy', undefined);
  app.addHook('onRequest', async (request) => {
    if (check === null) {
      const token = presentedKey(request.headers);
      request.apiKeyId = token === undefined ? 'anonymous' : keyId(digest(token));
      return;
    }
    if (isOpen(request, open)) return;
    const m = check(presentedKey(request.headers));
    request.apiKeyId = m.id;
    request.keyPolicy = m.policy;
  });
}

/** Open only when the router matched a route on the open list (a 404 has no matched url). */
function isOpen(request: FastifyRequest, open: ReadonlySet<string>): boolean {
  const matched = request.is404 ? undefined : request.routeOptions.url;
  return matched !== undefined && open.has(matched);
}
