/**
 * Learns a profile's delimiters as the backend's own token ids (docs/budget-forcing.md: "thinkgate learns
 * delimiter ids from the backend's /tokenize"). Asked once per (model, profile) and cached by
 * the ProfileResolver that the app owns; concurrent first requests share one lookup.
 */
import type { Backend } from './backend.js';
import { END_OF_TURN_TEXTS, type Profile, type ResolvedProfile } from '../profiles/profile.js';
import { UpstreamError } from '../errors.js';
import { LruCache } from '../util/lru.js';

export async function resolveProfile(backend: Backend, model: string, profile: Profile, signal?: AbortSignal): Promise<ResolvedProfile> {
  const tok = (text: string): Promise<number[]> =>
    text.length === 0 ? Promise.resolve([]) : backend.tokenize(model, text, signal);
  const eosTexts = profile.end_of_turn ?? END_OF_TURN_TEXTS;
  const [startIds, endIds, forcedCloseIds, openIds, ...eos] = await Promise.all([
    tok(profile.thinking_start),
    tok(profile.thinking_end),
    tok(profile.forced_close),
    tok(profile.open_text),
    ...eosTexts.map(tok),
  ]);
  // A marker another tokenizer spells in several ordinary ids is not this model's EOS.
  const eosIds = eos.filter((ids) => ids.length === 1).map((ids) => ids[0]!);
  if (startIds.length === 0 || endIds.length === 0) {
    throw new UpstreamError(`The tokenizer of '${model}' returned no ids for the thinking delimiters of profile '${profile.name}'.`);
  }
  return { profile, startIds, endIds, forcedCloseIds, openIds, eosIds };
}

/** Profile ids per (model, profile name), least recently used dropped beyond `maxEntries`. */
export class ProfileResolver {
  private readonly cache: LruCache<string, Promise<ResolvedProfile>>;

  constructor(maxEntries = 256) {
    this.cache = new LruCache(maxEntries);
  }

  get(backend: Backend, model: string, profile: Profile): Promise<ResolvedProfile> {
    const key = `${model}\u0000${profile.name}`;
    let hit = this.cache.get(key);
    if (!hit) {
      const p = resolveProfile(backend, model, profile);
      // A failed lookup (upstream down) must not be cached.
      p.catch(() => this.cache.deleteIfSame(key, p));
      this.cache.set(key, p);
      hit = p;
    }
    return hit;
  }
}
