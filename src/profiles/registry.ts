/**
 * Model id -> ModelPolicy: which profile a model uses and its default budgets, from the config's
 * `models` globs (first match wins; docs/configuration.md). Unmatched models use think-tags (docs/budget-forcing.md
 * "Profiles") with the global defaults.
 */
import picomatch from 'picomatch';
import type { BudgetDefaults, BudgetPreset, ModelPolicy, ModelRule, PolicyConfig, Profile, ReasoningEffort } from './profile.js';
import { DEFAULT_PROFILE_NAME } from './builtin.js';
import { LruCache } from '../util/lru.js';

export type { PolicyConfig } from './profile.js';

/**
 * Model ids are globbed as plain strings, not paths: `*` must match `simplescaling/s1.1-32B`.
 * picomatch's `bash` mode makes a single `*` a globstar (`**`), `dot` lets it match a leading
 * `.`, and `windows: false` keeps `\` from being a separator on any platform. `?` still does
 * not match `/`.
 */
const GLOB_OPTIONS = Object.freeze({ dot: true, bash: true, windows: false });

export function compileModelGlob(pattern: string): (modelId: string) => boolean {
  return picomatch(pattern, GLOB_OPTIONS);
}

/** Budget keys a `models` entry may set; they overlay the global `defaults` one by one. */
const BUDGET_KEYS = [
  'max_thinking_tokens',
  'min_thinking_tokens',
  'max_thinking_extensions',
  'thinking_extension',
] as const satisfies readonly (keyof BudgetDefaults)[];

/**
 * The policy of one model under already-compiled rules. Effort presets: an entry's `effort`
 * replaces the profile's preset level by level (a level is replaced whole, never merged field by
 * field, so a validated preset never becomes min > max by mixing).
 *
 * The extension phrase, one rule (docs/budget-forcing.md, "Budget fields and their precedence"): the entry's
 * `thinking_extension`, else the global one when the operator set it (even to "Wait"), else the
 * profile's own `extension` (an operator profile may say "Hmm"). A request's own phrase wins over
 * all of them (openai/budget.ts).
 */
function policyFor(
  config: PolicyConfig,
  rules: readonly { rule: ModelRule; test: (id: string) => boolean }[],
  modelId: string,
): ModelPolicy {
  const match = rules.find((r) => r.test(modelId))?.rule;
  const profileName = match?.profile ?? DEFAULT_PROFILE_NAME;
  const base = Object.hasOwn(config.profiles, profileName) ? config.profiles[profileName] : undefined;
  if (base === undefined) {
    // loadConfig rejects unknown profile names; this is a caller bypassing it.
    throw new Error(`unknown profile '${profileName}' for model '${modelId}'`);
  }
  const defaults: BudgetDefaults = {
    ...config.defaults,
    thinking_extension: config.explicitDefaults.thinking_extension ?? base.extension,
  };
  for (const key of BUDGET_KEYS) {
    const value = match?.defaults[key];
    if (value !== undefined) (defaults as Record<string, unknown>)[key] = value;
  }
  const profile = match?.effort === undefined ? base : withEffort(base, match.effort);
  const toolCallParser = match?.tool_call_parser ?? base.tool_call_parser;
  return Object.freeze({ profile, defaults: Object.freeze(defaults), ...(toolCallParser === undefined ? {} : { toolCallParser }) });
}

function withEffort(base: Profile, effort: Partial<Record<ReasoningEffort, BudgetPreset>>): Profile {
  return Object.freeze({ ...base, effort: Object.freeze({ ...base.effort, ...effort }) });
}

/** One-shot lookup (compiles the globs each call: use createProfileRegistry on hot paths). */
export function resolveModelPolicy(config: PolicyConfig, modelId: string): ModelPolicy {
  return policyFor(config, compileRules(config.models), modelId);
}

function compileRules(models: readonly ModelRule[]) {
  return models.map((rule) => ({ rule, test: compileModelGlob(rule.pattern) }));
}

export interface ProfileRegistry {
  /** The policy for a model id; cached per id. Never throws for a config from loadConfig. */
  policyFor(modelId: string): ModelPolicy;
  /** A profile by name (built-in or operator-defined), without any model's effort overrides. */
  profile(name: string): Profile | undefined;
  readonly profileNames: readonly string[];
}

/**
 * Model ids come from clients, so the cache is bounded: least recently used ids are dropped
 * beyond `cacheSize` (default 1024).
 */
export function createProfileRegistry(config: PolicyConfig, opts: { cacheSize?: number } = {}): ProfileRegistry {
  const rules = compileRules(config.models);
  const cache = new LruCache<string, ModelPolicy>(opts.cacheSize ?? 1024);
  return {
    policyFor(modelId) {
      let policy = cache.get(modelId);
      if (policy === undefined) {
        policy = policyFor(config, rules, modelId);
        cache.set(modelId, policy);
      }
      return policy;
    },
    profile(name) {
      return Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined;
    },
    profileNames: Object.freeze(Object.keys(config.profiles)),
  };
}
