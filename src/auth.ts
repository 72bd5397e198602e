/**
 * Bearer keys on /v1/* (spec 6: THINKGATE_API_KEYS). Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither a key's content nor its length leaks through timing; every
 * configured key is compared on every request for the same reason.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from './errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function createKeyCheck(keys: readonly string[]): ((authorization: string | undefined) => void) | null {
  if (keys.length === 0) return null;
  const digests = keys.map(digest);
  return (authorization) => {
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!m) throw new AuthenticationError('You did not provide an API key. Send it as "Authorization: Bearer <key>".');
    const given = digest(m[1]!.trim());
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok) throw new AuthenticationError('Incorrect API key provided.');
  };
}
