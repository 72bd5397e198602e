/**
 * A model family as data (docs/architecture.md: "model families are data"): how it delimits thinking,
 * how thinkgate closes thinking for it, the phrase that extends it, and its effort presets.
 * The engine never branches on a family; it reads these fields.
 */

/**
 * `reasoning_effort` levels, lowest first: the one list (request schema, config, sweep). vLLM 0.32
 * accepts exactly these (chat_completion/protocol.py: OpenAI's none ... xhigh, plus DeepSeek V4's
 * `max`); each picks a preset of the model's profile.
 */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

export interface BudgetPreset {
  max_thinking_tokens?: number;
  min_thinking_tokens?: number;
  max_thinking_extensions?: number;
}

export interface Profile {
  name: string;
  /** Text that opens thinking, e.g. `<think>` or `<|im_start|>think`. */
  thinking_start: string;
  /** Text that closes thinking, e.g. `</think>` or `<|im_start|>answer`. */
  thinking_end: string;
  /** What thinkgate appends to end thinking at the max budget (s1 paper, section 3.1). */
  forced_close: string;
  /** What thinkgate appends to open thinking when the chat template did not (e.g. `<think>\n`). */
  open_text: string;
  /** Appended when a too-early close is suppressed (s1: "Wait"). */
  extension: string;
  /** Presets that `reasoning_effort` picks; explicit request fields win. */
  effort: Partial<Record<ReasoningEffort, BudgetPreset>>;
  /**
   * End-of-turn texts (EOS). vLLM stops on EOS by itself, but when EOS is also the max_tokens-th
   * token it reports `length` and leaves the id in the output (v1's check_stop tests the length
   * first); knowing these ids keeps such an EOS out of the thinking span and the next prompt.
   * Only texts that are ONE id in the model's tokenizer are used. Default: END_OF_TURN_TEXTS.
   */
  end_of_turn?: readonly string[];
  /**
   * vLLM's `--tool-call-parser` name for this family's tool-call syntax (`hermes`,
   * `deepseek_v3`; tools/tool-plan.ts); absent = no tool calling (a model entry may set it).
   */
  tool_call_parser?: string;
  /**
   * Reflection phrases `suppress_reflection: true` bans during thinking (NoWait, arXiv
   * 2506.08343). Default: REFLECTION_PHRASES.
   */
  reflection_phrases?: readonly string[];
  /**
   * Early exit's probe (`thinking_early_exit`): the text after the forced close that asks the model
   * for its answer so far. Default: ANSWER_PREFIX.
   */
  answer_prefix?: string;
  /** Operator defaults of `thinking_early_exit` for this family (EARLY_EXIT_DEFAULTS otherwise). */
  early_exit?: { probe_interval_tokens?: number; agreements?: number; probe_max_tokens?: number };
}

/** The probe's answer prefix: a `\boxed{` answer, as the s1 evaluations grade it (the boxed grader reads it). */
export const ANSWER_PREFIX = 'The final answer is \\boxed{';

/**
 * Early-exit defaults: Dynasor-CoT (arXiv 2412.20993) probes every few dozen tokens and exits
 * after 3 agreeing probes; each probe here restarts a thinking segment (prefix-cached), so the
 * interval is longer by default.
 */
export const EARLY_EXIT_DEFAULTS = Object.freeze({ probe_interval_tokens: 256, agreements: 3, probe_max_tokens: 16 });

/**
 * The reflection words NoWait (Wang et al. 2025, arXiv 2506.08343) found most often at the start
 * of a self-check: the default of `suppress_reflection: true`. The paper's longer list ("but",
 * "however", "check", "verify", ...) can be sent as the request's own list, or set per profile.
 */
export const REFLECTION_PHRASES: readonly string[] = Object.freeze(['Wait', 'Hmm', 'Alternatively']);

/** End-of-turn markers of the common open model families (ChatML/Qwen, DeepSeek, Llama 3, Phi). */
export const END_OF_TURN_TEXTS: readonly string[] = Object.freeze([
  '<|im_end|>',
  '<|endoftext|>',
  '<｜end▁of▁sentence｜>',
  '<|eot_id|>',
  '<|end|>',
]);

/** A profile with its delimiters learned as the backend's own token ids (via /tokenize). */
export interface ResolvedProfile {
  profile: Profile;
  startIds: number[];
  endIds: number[];
  forcedCloseIds: number[];
  openIds: number[];
  /** Single-id end-of-turn markers (see Profile.end_of_turn). */
  eosIds: number[];
}

/** Per-model default budgets (config `models` entries and the global `defaults`). */
export interface BudgetDefaults extends BudgetPreset {
  thinking_extension?: string;
}

/** What the config says about one model id: its profile and its default budgets. */
export interface ModelPolicy {
  profile: Profile;
  defaults: BudgetDefaults;
  /** The tool-call parser: the model entry's, else the profile's (docs/configuration.md). */
  toolCallParser?: string;
}

/** One `models` entry: a glob over model ids; first match wins. */
export interface ModelRule {
  pattern: string;
  profile: string;
  /** Only the budget keys this entry sets; the registry overlays them on the global defaults. */
  defaults: BudgetDefaults;
  /** Replaces the profile's presets level by level. */
  effort?: Partial<Record<ReasoningEffort, BudgetPreset>>;
  /** Overrides the profile's `tool_call_parser`. */
  tool_call_parser?: string;
}

/** The global budget defaults (config `defaults`): E and the phrase always have a value. */
export type GlobalDefaults = BudgetDefaults & { max_thinking_extensions: number; thinking_extension: string };

/** What model-policy resolution reads of the configuration (config.ts's Config has these). */
export interface PolicyConfig {
  profiles: Readonly<Record<string, Profile>>;
  models: readonly ModelRule[];
  defaults: GlobalDefaults;
  /**
   * The keys of `defaults` the operator set (the file's `defaults:` section), without the built-in
   * fallbacks: an explicitly configured phrase, even "Wait", wins over a profile's own.
   */
  explicitDefaults: Readonly<BudgetDefaults>;
}
