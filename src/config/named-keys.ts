/**
 * `auth.keys` (docs/configuration.md, "Named keys") -> KeyPolicy list: each entry holds its key
 * or the key's SHA-256 (so a config in a repository or a ConfigMap need not hold a secret), never
 * both; names and keys are unique across entries and against `auth.api_keys` (one bearer value
 * must identify one key, or its limits would depend on the list's order).
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { KeyPolicy } from '../quota/policy.js';
import type { namedKeySchema } from './schema.js';

type Entry = z.infer<typeof namedKeySchema>;

export const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

export function readNamedKeys(entries: readonly Entry[] | undefined, plainKeys: readonly string[], problems: string[]): KeyPolicy[] {
  const out: KeyPolicy[] = [];
  const names = new Set<string>();
  const digests = new Set(plainKeys.map((k) => sha256(k).toString('hex')));
  (entries ?? []).forEach((e, i) => {
    const at = `auth.keys[${i}]`;
    if ((e.key === undefined) === (e.sha256 === undefined)) {
      problems.push(`${at}: needs exactly one of key, sha256`);
      return;
    }
    const hex = e.key !== undefined ? sha256(e.key).toString('hex') : e.sha256!.toLowerCase();
    if (names.has(e.name)) problems.push(`${at}.name: duplicate name ${e.name}`);
    if (digests.has(hex)) problems.push(`${at}: the same key as another entry of auth.keys or auth.api_keys`);
    names.add(e.name);
    digests.add(hex);
    const p: KeyPolicy = { name: e.name, sha256: hex, thinkingQuota: { ...e.thinking_quota }, onQuotaExhausted: e.on_quota_exhausted ?? 'refuse' };
    if (e.max_thinking_tokens !== undefined) p.maxThinkingTokens = e.max_thinking_tokens;
    if (e.max_n !== undefined) p.maxN = e.max_n;
    if (e.requests_per_minute !== undefined) p.requestsPerMinute = e.requests_per_minute;
    out.push(p);
  });
  return out;
}
