/**
 * The built-in profiles by name (docs/budget-forcing.md). Operators add to or override them with the
 * config's `profiles:`; a model that matches no `models` entry uses DEFAULT_PROFILE_NAME.
 */
import type { Profile } from './profile.js';
import { s1Profile } from './s1.js';
import { thinkTagsProfile } from './think-tags.js';

export const DEFAULT_PROFILE_NAME = 'think-tags';

/** Null-prototype, so `BUILTIN_PROFILES['constructor']` is undefined, not Object. */
export const BUILTIN_PROFILES: Readonly<Record<string, Profile>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, Profile>, {
    [thinkTagsProfile.name]: thinkTagsProfile,
    [s1Profile.name]: s1Profile,
  }),
);
