/**
 * Reflection suppression (`suppress_reflection`, issue 16 item 2; docs/api.md "Reflection
 * suppression"): NoWait (Wang et al. 2025, arXiv 2506.08343) bans self-check words such as
 * "Wait", "Hmm", "Alternatively" while the model thinks, which shortens chains 27-51% with little
 * loss on many models (it hurts some distilled ones: the client decides, per request).
 *
 * Each phrase is tokenized through the backend (its own tokenizer, so the ids are exact) in the
 * spellings a model writes it: as is, lower case, capitalized, each with and without a leading
 * space. Every spelling that is ONE token gets a logit_bias of -100 (vLLM clamps to [-100, 100];
 * -100 makes the token unsampleable in practice) on THINKING segments only
 * (EngineInput.thinkingSampling): the answer is untouched. A phrase of several tokens cannot be
 * banned this way without banning its first token everywhere, so it is left out, and the count
 * of banned ids is what the client is told (budget_forcing.reflection_ids_banned).
 *
 * The extension phrase still works: thinkgate inserts it as prompt ids, it is never sampled, so a
 * ban cannot touch it; what is banned is the model writing it on its own.
 */
import type { Backend } from '../engine/backend.js';
import { REFLECTION_PHRASES, type Profile } from '../profiles/profile.js';

/** The phrases a request asks to ban: none, the profile's, or its own list. */
export function reflectionPhrases(field: boolean | readonly string[] | undefined, profile: Profile): readonly string[] {
  if (field === undefined || field === false) return [];
  if (field === true) return profile.reflection_phrases ?? REFLECTION_PHRASES;
  return field;
}

/** The spellings of a phrase a model may write (deduplicated, in a stable order). */
export function spellings(phrase: string): string[] {
  const t = phrase.trim();
  if (t === '') return [];
  const cap = t[0]!.toUpperCase() + t.slice(1);
  const out = new Set<string>();
  for (const w of [t, t.toLowerCase(), cap]) {
    out.add(w);
    out.add(` ${w}`);
  }
  return [...out];
}

/**
 * Thinking segments' logit_bias: the client's own entries, plus -100 for every one-token spelling
 * of the phrases (the ban wins over a client entry for the same id). Undefined when nothing bans.
 */
export async function reflectionBias(
  backend: Backend,
  model: string,
  phrases: readonly string[],
  clientBias: unknown,
  signal: AbortSignal,
): Promise<{ thinkingSampling: Record<string, unknown>; banned: number } | undefined> {
  if (phrases.length === 0) return undefined;
  const texts = [...new Set(phrases.flatMap(spellings))];
  const ids = await Promise.all(texts.map((t) => backend.tokenize(model, t, signal)));
  const banned = new Set<number>();
  for (const one of ids) if (one.length === 1) banned.add(one[0]!);
  if (banned.size === 0) return undefined;
  const bias: Record<string, unknown> = typeof clientBias === 'object' && clientBias !== null && !Array.isArray(clientBias) ? { ...clientBias } : {};
  for (const id of banned) bias[String(id)] = -100;
  return { thinkingSampling: { logit_bias: bias }, banned: banned.size };
}
