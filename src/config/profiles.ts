/**
 * `profiles` (built-ins overlaid by the operator's), `models` (glob -> profile and budgets) and the
 * budget checks (m > M wherever both are known). docs/configuration.md, "Profiles and models".
 */
import type { BudgetPreset, ModelRule, Profile } from '../profiles/profile.js';
import { REASONING_EFFORTS } from '../profiles/profile.js';
import { BUILTIN_PROFILES, DEFAULT_PROFILE_NAME } from '../profiles/builtin.js';
import { isPlainObject, joinPath, modelEntrySchema, modelListEntrySchema, profileSchema, zodProblems, type FileEffort, type FileModelEntry } from './schema.js';

const PROFILE_NAME = /^[A-Za-z0-9][\w.-]*$/;
const REQUIRED_PROFILE_KEYS = ['thinking_start', 'thinking_end', 'forced_close', 'extension'] as const;

/** `<think>` opens as `<think>\n` (R1/QwQ templates); a non-tag start such as s1's is used as is. */
export function defaultOpenText(thinkingStart: string): string {
  return thinkingStart.endsWith('>') ? `${thinkingStart}\n` : thinkingStart;
}

/**
 * Built-ins overlaid by the operator's profiles. An entry named like a built-in may set only the
 * keys it changes; a new profile must set the four delimiter keys and inherits think-tags' effort
 * presets, level by level, unless it sets its own.
 */
export function buildProfiles(raw: unknown, problems: string[]): { profiles: Record<string, Profile>; names: string[] } {
  const profiles = Object.assign(Object.create(null) as Record<string, Profile>, BUILTIN_PROFILES);
  const names = Object.keys(BUILTIN_PROFILES);
  if (raw === undefined) return { profiles, names };
  if (!isPlainObject(raw)) {
    problems.push('profiles: must be a mapping of name -> profile');
    return { profiles, names };
  }
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith('x-')) continue;
    const path = joinPath('profiles', [name]);
    if (!PROFILE_NAME.test(name)) {
      problems.push(`${path}: a profile name is letters, digits, '.', '_', '-' (starting with a letter or digit)`);
      continue;
    }
    if (!names.includes(name)) names.push(name); // known even when invalid: reported once, here
    const parsed = profileSchema.safeParse(value);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, path, path));
      continue;
    }
    const entry = parsed.data;
    const base = Object.hasOwn(BUILTIN_PROFILES, name) ? BUILTIN_PROFILES[name] : undefined;
    const missing = REQUIRED_PROFILE_KEYS.filter((k) => entry[k] === undefined && base === undefined);
    for (const k of missing) problems.push(`${path}.${k}: required`);
    const start = entry.thinking_start ?? base?.thinking_start;
    const end = entry.thinking_end ?? base?.thinking_end;
    const forcedClose = entry.forced_close ?? base?.forced_close;
    const extension = entry.extension ?? base?.extension;
    if (start === undefined || end === undefined || forcedClose === undefined || extension === undefined) continue;
    if (start === end) problems.push(`${path}.thinking_end: must differ from thinking_start`);
    // The model must see thinking end in the forced close, or it would go on thinking.
    if (!forcedClose.includes(end)) problems.push(`${path}.forced_close: must contain thinking_end ${JSON.stringify(end)}`);
    checkEffort(`${path}.effort`, entry.effort, problems);
    const inherited = base?.effort ?? BUILTIN_PROFILES[DEFAULT_PROFILE_NAME]?.effort ?? {};
    profiles[name] = {
      name,
      thinking_start: start,
      thinking_end: end,
      forced_close: forcedClose,
      open_text: entry.open_text ?? (entry.thinking_start === undefined && base ? base.open_text : defaultOpenText(start)),
      extension,
      effort: { ...inherited, ...definedOnly(entry.effort ?? {}) },
      ...(entry.end_of_turn ?? base?.end_of_turn ? { end_of_turn: entry.end_of_turn ?? base?.end_of_turn } : {}),
      ...(entry.tool_call_parser ?? base?.tool_call_parser ? { tool_call_parser: entry.tool_call_parser ?? base?.tool_call_parser } : {}),
      ...(entry.reflection_phrases ?? base?.reflection_phrases ? { reflection_phrases: entry.reflection_phrases ?? base?.reflection_phrases } : {}),
      ...(entry.answer_prefix ?? base?.answer_prefix ? { answer_prefix: entry.answer_prefix ?? base?.answer_prefix } : {}),
      ...(entry.early_exit ?? base?.early_exit ? { early_exit: { ...base?.early_exit, ...definedOnly(entry.early_exit ?? {}) } } : {}),
    };
  }
  return { profiles, names };
}

/** m > M is an error wherever both are known; `inherited` is what an entry falls back on. */
export function checkBudget(path: string, own: BudgetPreset, problems: string[], inherited: BudgetPreset = {}): void {
  const max = own.max_thinking_tokens ?? inherited.max_thinking_tokens;
  const min = own.min_thinking_tokens ?? inherited.min_thinking_tokens;
  if (max === undefined || min === undefined || min <= max) return;
  if (own.min_thinking_tokens === undefined) {
    problems.push(`${path}.max_thinking_tokens: ${max} is below min_thinking_tokens ${min} (from defaults)`);
  } else {
    const from = own.max_thinking_tokens === undefined ? ' (from defaults)' : '';
    problems.push(`${path}.min_thinking_tokens: ${min} exceeds max_thinking_tokens ${max}${from}`);
  }
}

function checkEffort(path: string, effort: FileEffort | undefined, problems: string[]): void {
  for (const level of REASONING_EFFORTS) {
    const p = effort?.[level];
    if (p !== undefined) checkBudget(`${path}.${level}`, p, problems);
  }
}

export function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `models` as a mapping (its order is the match order) or as a list of `{match, ...}`. */
export function readModels(raw: unknown, profileNames: readonly string[], defaults: BudgetPreset, problems: string[]): ModelRule[] {
  if (raw === undefined) return [];
  let entries: [path: string, pattern: string | undefined, value: unknown][];
  if (Array.isArray(raw)) entries = raw.map((v, i) => [`models[${i}]`, undefined, v]);
  else if (raw instanceof Map || isPlainObject(raw)) {
    const pairs = raw instanceof Map ? [...raw.entries()] : Object.entries(raw);
    entries = pairs.map(([k, v]) => [`models[${JSON.stringify(String(k))}]`, String(k), v]);
  } else {
    problems.push('models: must be a mapping of glob -> {profile, ...} or a list of {match, profile, ...}');
    return [];
  }
  const rules: ModelRule[] = [];
  const seen = new Map<string, string>();
  for (const [path, key, value] of entries) {
    const parsed = key === undefined ? modelListEntrySchema.safeParse(value) : modelEntrySchema.safeParse(value);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, path, path));
      continue;
    }
    const { profile, effort, match, tool_call_parser, ...budget }: FileModelEntry = parsed.data;
    const pattern = key ?? match ?? '';
    if (pattern === '') problems.push(`${path}: the glob must not be empty`);
    const earlier = seen.get(pattern);
    if (earlier !== undefined) problems.push(`${path}: duplicate of ${earlier}, which always matches first`);
    seen.set(pattern, path);
    if (!profileNames.includes(profile)) {
      problems.push(`${path}.profile: unknown profile '${profile}' (known: ${profileNames.join(', ')})`);
    }
    checkBudget(path, budget, problems, defaults);
    checkEffort(`${path}.effort`, effort, problems);
    const rule: ModelRule = { pattern, profile, defaults: definedOnly(budget) };
    if (effort !== undefined) rule.effort = definedOnly(effort);
    if (tool_call_parser !== undefined) rule.tool_call_parser = tool_call_parser;
    rules.push(rule);
  }
  return rules;
}
