/**
 * Configuration: a YAML file (THINKGATE_CONFIG) overlaid by environment variables, validated with
 * zod, returned deep-frozen. Bad configuration throws one ConfigError listing every problem with
 * its path (docs/configuration.md), so an operator fixes them all in one round.
 *
 * | Environment variable          | File key                      | Default   | Meaning |
 * |-------------------------------|-------------------------------|-----------|---------|
 * | `THINKGATE_CONFIG`            | -                             | (none)    | Path of the YAML config file |
 * | `THINKGATE_UPSTREAMS`         | `upstreams`                   | (required)| Comma-separated vLLM server roots (`http://vllm-0:8000`, no `/v1`); replaces the file's list |
 * | -                             | `upstreams[].kind`            | `vllm`    | `vllm` or `llamacpp` (llama.cpp's llama-server) |
 * | `THINKGATE_UPSTREAM_API_KEY`  | `upstreams[].api_key`         | (none)    | Bearer key for vLLM `--api-key`, for every upstream without its own |
 * | `THINKGATE_HOST`              | `server.host`                 | `0.0.0.0` | Listen address |
 * | `THINKGATE_PORT`              | `server.port`                 | `8080`    | Listen port (0-65535; 0 = any free port) |
 * | `THINKGATE_LOG_LEVEL`         | `server.log_level`            | `info`    | fatal, error, warn, info, debug, trace, silent |
 * | `THINKGATE_API_KEYS`          | `auth.api_keys`               | (open)    | Comma-separated client keys; when set, `/v1/*` needs `Authorization: Bearer <key>` |
 * | `THINKGATE_DRAIN_TIMEOUT_MS`  | `server.drain_timeout_ms`     | `30000`   | On SIGTERM, how long in-flight requests may finish |
 * | -                             | `server.sse_keepalive_ms`     | `15000`   | SSE `:` comment interval; 0 disables |
 * | -                             | `server.request_timeout_ms`   | `60000`   | Whole request (headers + body) must arrive within it, else 408 and close |
 * | -                             | `server.headers_timeout_ms`   | `15000`   | Request headers must arrive within it (at most request_timeout_ms) |
 * | -                             | `server.keep_alive_timeout_ms`| `72000`   | Idle keep-alive connections close after it |
 * | -                             | `server.max_connections`      | `8192`    | Open client connections at once; more are dropped |
 * | -                             | `auth.metrics`                | `open`    | `api_key`: /metrics needs a key too |
 * | `THINKGATE_BODY_LIMIT_BYTES`  | `limits.body_limit_bytes`     | `8388608` | Largest request body (413 above) |
 * | -                             | `limits.max_upstream_response_bytes` | `16777216` | Largest upstream body or SSE event read whole (502 `upstream_response_too_large` above) |
 * | -                             | `limits.max_relay_response_bytes` | `268435456` | Largest relayed response (streamed; cut above) |
 * | `THINKGATE_MAX_CONCURRENT`    | `limits.max_concurrent_requests` | `1024` | Requests served at once; more wait in the queue |
 * | -                             | `limits.max_queue`            | `1024`    | Requests waiting; more get 429 |
 * | -                             | `limits.queue_timeout_ms`     | `30000`   | Longest wait in the queue (then 429) |
 * | -                             | `limits.per_key_max_concurrent` | `0`     | Concurrent requests per API key; 0 = no per-key limit |
 * | -                             | `limits.max_choices_per_request` | `128`  | Runs of one request (prompts x n); above, 400. Each run is one admission slot |
 * | -                             | `limits.max_thinking_extensions` | `32`   | Ceiling on a request's E (larger values are clamped, reported in budget_forcing) |
 * | -                             | `limits.max_segments_per_choice` | `64`   | Upstream calls of one choice; at the ceiling the choice ends with `length` |
 * | -                             | `limits.max_upstream_bytes_per_request` | `268435456` | Bytes one request may send upstream, all segments together; above, 400 |
 * | -                             | `routing.retries`             | `2`       | Retries on another replica before the first byte |
 * | -                             | `routing.retry_backoff_ms`    | `100`     | Backoff base (doubles per retry, jittered) |
 * | -                             | `routing.affinity`            | `none`    | `prefix`: same conversation start -> same replica |
 * | -                             | `timeouts.connect_ms`         | `5000`    | Connecting to vLLM |
 * | -                             | `timeouts.first_token_ms`     | `600000`  | First token of a segment (a long prompt on a busy vLLM) |
 * | -                             | `timeouts.idle_ms`            | `120000`  | Silence between tokens |
 * | -                             | `timeouts.request_ms`         | `30000`   | /tokenize, /v1/models |
 * | -                             | `health.interval_ms` / `health.timeout_ms` | `5000` / `2000` | Upstream health probes |
 * | -                             | `response.reasoning_fields`   | both      | `reasoning_content` and/or `reasoning` |
 * | -                             | `defaults.*`                  | E = 8, `Wait` | Budgets of every model (`max_thinking_tokens`, `min_thinking_tokens`, `max_thinking_extensions`, `thinking_extension`) |
 * | -                             | `profiles`, `models`          | built-ins | See config.example.yaml |
 *
 * Environment values win over the file. An empty variable counts as unset (so `THINKGATE_API_KEYS=`
 * from a compose file never opens a gateway the file protects). Numbers are parsed strictly:
 * digits only. Unknown file keys are errors, except keys starting with `x-` (for YAML anchors).
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, parseDocument } from 'yaml';
import { z } from 'zod';
import type { BudgetDefaults, BudgetPreset, GlobalDefaults, ModelRule, Profile, ReasoningEffort } from '../profiles/profile.js';
import { BUILTIN_PROFILES, DEFAULT_PROFILE_NAME } from '../profiles/builtin.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const REASONING_FIELDS = ['reasoning_content', 'reasoning'] as const;
export type ReasoningField = (typeof REASONING_FIELDS)[number];
const EFFORTS = ['none', 'minimal', 'low', 'medium', 'high'] as const satisfies readonly ReasoningEffort[];

/** Which server protocol an upstream speaks (src/backends/create-backend.ts picks the Backend). */
export const UPSTREAM_KINDS = ['vllm', 'llamacpp'] as const;
export type UpstreamKind = (typeof UPSTREAM_KINDS)[number];

export interface UpstreamConfig {
  /** vLLM server root, no trailing slash: thinkgate appends `/tokenize`, `/v1/completions`. */
  url: string;
  apiKey?: string;
  /** `vllm` or `llamacpp` (llama.cpp's llama-server); absent means `vllm`. */
  kind?: UpstreamKind;
}

export type { ModelRule } from '../profiles/profile.js';

export interface Config {
  host: string;
  port: number;
  logLevel: LogLevel;
  /** [] = open (no auth). */
  apiKeys: readonly string[];
  /** At least one. */
  upstreams: readonly UpstreamConfig[];
  /** Built-ins plus operator profiles (an operator entry may override a built-in by name). Null prototype. */
  profiles: Readonly<Record<string, Profile>>;
  models: readonly ModelRule[];
  defaults: GlobalDefaults;
  /** What the file's `defaults:` section set, without the built-in fallbacks (PolicyConfig). */
  explicitDefaults: Readonly<BudgetDefaults>;
  reasoningFields: readonly ReasoningField[];
  limits: {
    bodyLimitBytes: number;
    /** Most bytes buffered of one upstream answer: a whole /tokenize or /v1/models body, one SSE event. */
    maxUpstreamResponseBytes: number;
    /** Most bytes of one relayed response (streamed, never buffered). */
    maxRelayResponseBytes: number;
    maxConcurrentRequests: number;
    maxQueue: number;
    queueTimeoutMs: number;
    /** Concurrent requests per API key (0 = no per-key limit); past it, 429. */
    perKeyMaxConcurrent: number;
    /** Issue 11 items 2, 4, 7: what one request may cost (runs, extensions, segments, upstream bytes). */
    maxChoicesPerRequest: number;
    maxThinkingExtensions: number;
    maxSegmentsPerChoice: number;
    maxUpstreamBytesPerRequest: number;
  };
  /** How requests pick and change replicas. */
  routing: {
    /** Further attempts on another replica for a start that failed before the first byte. */
    retries: number;
    /** Backoff base before retry k: base * 2^k, jittered. */
    retryBackoffMs: number;
    /** `prefix`: prefer the replica a hash of the conversation's start picks (cross-turn prefix cache). */
    affinity: 'none' | 'prefix';
  };
  timeouts: { connectMs: number; firstTokenMs: number; idleMs: number; requestMs: number };
  health: { intervalMs: number; timeoutMs: number };
  drainTimeoutMs: number;
  /** 0 disables keep-alives. */
  sseKeepAliveMs: number;
  /**
   * Bounds on the client side of the socket (docs: Operations). Node's own defaults leave a
   * trickled body or a silent half-sent header open forever; these close them.
   */
  connections: {
    /** Whole request (headers and body) must arrive within this (Node's server.requestTimeout); the response is not bounded by it. */
    requestTimeoutMs: number;
    /** Headers must arrive within this (server.headersTimeout); at most requestTimeoutMs. */
    headersTimeoutMs: number;
    /** An idle keep-alive connection is closed after this (above a load balancer's idle timeout). */
    keepAliveTimeoutMs: number;
    /** Open client connections at once; more are refused by the kernel's accept path (server.maxConnections). */
    maxConnections: number;
  };
  /** `open`: /metrics needs no key (Prometheus scrapes in-cluster); `api_key`: it needs one of auth.api_keys. */
  metricsAuth: 'open' | 'api_key';
}

/** Every configuration problem at once, one `path: message` per line. Not a ThinkgateError: it never reaches a client. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source = 'environment') {
    const n = problems.length;
    super(`Invalid thinkgate configuration (${source}), ${n} problem${n === 1 ? '' : 's'}:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

// ---------------------------------------------------------------- file schema (zod)

/** setTimeout's largest delay; Node turns anything above into 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2_147_483_647;
const intMessage = (min: number, max: number) =>
  max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer ${min}-${max}`;
const requiredOr = (msg: string) => (iss: { input: unknown }) => (iss.input === undefined ? 'required' : msg);

function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  const msg = intMessage(min, max);
  return z.number({ error: requiredOr(msg) }).refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: msg });
}
const ms = (min: number) => int(min, MAX_TIMER_MS);
const text = () => z.string({ error: requiredOr('must be a string') }).min(1, { error: 'must not be empty' });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);
}

/** A fixed-shape mapping: unknown keys are errors (typos must not pass), `x-` keys are ignored. */
function section<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(', ');
  const dropExtensions = (v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('x-'))) : v;
  return z.preprocess(
    dropExtensions,
    z.strictObject(shape, {
      error: (iss) =>
        iss.code === 'unrecognized_keys' ? `unknown key (known: ${known})` : requiredOr('must be a mapping')(iss),
    }),
  );
}

const HTTP_URL = 'must be an http(s) URL';
function urlProblem(s: string): string | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return HTTP_URL;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return HTTP_URL;
  if (u.username !== '' || u.password !== '') return 'must not contain credentials (use api_key)';
  if (u.search !== '' || u.hash !== '') return 'must not have a query or fragment';
  // vLLM serves /tokenize at the root and the OpenAI API under /v1: the base is the root.
  if (/\/v1\/*$/.test(u.pathname)) return 'must be the vLLM server root, without /v1';
  return undefined;
}
const normalizeUrl = (s: string) => s.trim().replace(/\/+$/, '');
const url = z.string({ error: requiredOr(HTTP_URL) }).superRefine((s, ctx) => {
  const why = urlProblem(s.trim());
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: why });
});

const presetShape = {
  max_thinking_tokens: int(0).optional(),
  min_thinking_tokens: int(0).optional(),
  max_thinking_extensions: int(0).optional(),
};
const budgetShape = { ...presetShape, thinking_extension: text().optional() };
const preset = section(presetShape).optional();
const effortSchema = section({ none: preset, minimal: preset, low: preset, medium: preset, high: preset });
const profileSchema = section({
  thinking_start: text().optional(),
  thinking_end: text().optional(),
  forced_close: text().optional(),
  extension: text().optional(),
  open_text: text().optional(),
  end_of_turn: z.array(text()).optional(),
  effort: effortSchema.optional(),
});
const modelEntryShape = { profile: text(), ...budgetShape, effort: effortSchema.optional() };
const modelEntrySchema = section(modelEntryShape);
const modelListEntrySchema = section({ match: text(), ...modelEntryShape });
const upstreamSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { url: v } : v),
  section({
    url,
    api_key: text().optional(),
    kind: z.enum(UPSTREAM_KINDS, { error: `must be one of ${UPSTREAM_KINDS.join(', ')}` }).optional(),
  }),
);

/** The file's top-level sections, each validated on its own so one bad section hides no other problem. */
const fileSections = {
  server: section({
    host: text().optional(),
    port: int(0, 65535).optional(),
    log_level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
    drain_timeout_ms: ms(0).optional(),
    sse_keepalive_ms: ms(0).optional(),
    request_timeout_ms: ms(1).optional(),
    headers_timeout_ms: ms(1).optional(),
    keep_alive_timeout_ms: ms(1).optional(),
    max_connections: int(1).optional(),
  }),
  auth: section({
    api_keys: z.array(text(), { error: 'must be a list of strings' }).optional(),
    metrics: z.enum(['open', 'api_key'], { error: 'must be open or api_key' }).optional(),
  }),
  defaults: section(budgetShape),
  response: section({
    reasoning_fields: z
      .array(z.enum(REASONING_FIELDS, { error: `must be one of ${REASONING_FIELDS.join(', ')}` }), {
        error: 'must be a list',
      })
      .min(1, { error: 'must name at least one field' })
      .optional(),
  }),
  limits: section({
    body_limit_bytes: int(1).optional(),
    max_upstream_response_bytes: int(1024).optional(),
    max_relay_response_bytes: int(1024).optional(),
    max_concurrent_requests: int(1).optional(),
    max_queue: int(0).optional(),
    queue_timeout_ms: ms(1).optional(),
    per_key_max_concurrent: int(0).optional(),
    max_choices_per_request: int(1).optional(),
    max_thinking_extensions: int(0).optional(),
    max_segments_per_choice: int(1).optional(),
    max_upstream_bytes_per_request: int(1).optional(),
  }),
  routing: section({
    retries: int(0, 10).optional(),
    retry_backoff_ms: ms(0).optional(),
    affinity: z.enum(['none', 'prefix'], { error: 'must be none or prefix' }).optional(),
  }),
  timeouts: section({
    connect_ms: ms(1).optional(),
    first_token_ms: ms(1).optional(),
    idle_ms: ms(1).optional(),
    request_ms: ms(1).optional(),
  }),
  health: section({ interval_ms: ms(1).optional(), timeout_ms: ms(1).optional() }),
};
type FileSections = { [K in keyof typeof fileSections]?: z.infer<(typeof fileSections)[K]> };
/** `upstreams`, `profiles` and `models` are validated entry by entry (models keep the file's order). */
const TOP_LEVEL_KEYS = ['server', 'auth', 'upstreams', 'defaults', 'response', 'limits', 'routing', 'timeouts', 'health', 'profiles', 'models'];
type FileProfile = z.infer<typeof profileSchema>;
type FileEffort = z.infer<typeof effortSchema>;
type FileModelEntry = z.infer<typeof modelListEntrySchema> | (z.infer<typeof modelEntrySchema> & { match?: undefined });

/** `a.b[0]["Qwen/*"]`: dotted where a key reads as a name, quoted brackets otherwise. */
function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let s = prefix;
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else {
      const k = String(seg);
      s += /^[A-Za-z_][\w-]*$/.test(k) ? (s === '' ? k : `.${k}`) : `[${JSON.stringify(k)}]`;
    }
  }
  return s;
}

function zodProblems(err: z.ZodError, prefix: string, top: string): string[] {
  return err.issues.flatMap((iss) => {
    const keys = iss.code === 'unrecognized_keys' ? iss.keys.map((k) => [...iss.path, k]) : [iss.path];
    return keys.map((p) => `${joinPath(prefix, p) || top}: ${iss.message}`);
  });
}

// ---------------------------------------------------------------- environment

interface EnvValues {
  host?: string;
  port?: number;
  logLevel?: LogLevel;
  apiKeys?: string[];
  upstreams?: string[];
  upstreamApiKey?: string;
  bodyLimitBytes?: number;
  maxConcurrent?: number;
  drainTimeoutMs?: number;
}

export type ConfigEnv = NodeJS.ProcessEnv | Record<string, string | undefined>;
type Env = ConfigEnv;

function readEnv(env: Env, problems: string[]): EnvValues {
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : NaN; // digits only: no "8e3", "0x1f", "-1", "1.5"
    if (n >= min && n <= max) return n;
    problems.push(`${name}: ${intMessage(min, max)}`);
    return undefined;
  };
  const list = (name: string): string[] | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) problems.push(`${name}: must list at least one value`);
    return items.length === 0 ? undefined : items;
  };
  const out: EnvValues = {};
  const set = <K extends keyof EnvValues>(k: K, v: EnvValues[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('host', get('THINKGATE_HOST'));
  set('port', integer('THINKGATE_PORT', 0, 65535));
  const level = get('THINKGATE_LOG_LEVEL');
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    problems.push(`THINKGATE_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);
  } else set('logLevel', level as LogLevel | undefined);
  set('apiKeys', list('THINKGATE_API_KEYS'));
  const upstreams = list('THINKGATE_UPSTREAMS');
  upstreams?.forEach((u, i) => {
    const why = urlProblem(u);
    if (why !== undefined) problems.push(`THINKGATE_UPSTREAMS[${i}]: ${why}`);
  });
  set('upstreams', upstreams?.map(normalizeUrl));
  set('upstreamApiKey', get('THINKGATE_UPSTREAM_API_KEY'));
  set('bodyLimitBytes', integer('THINKGATE_BODY_LIMIT_BYTES', 1));
  set('maxConcurrent', integer('THINKGATE_MAX_CONCURRENT', 1));
  set('drainTimeoutMs', integer('THINKGATE_DRAIN_TIMEOUT_MS', 0, MAX_TIMER_MS));
  return out;
}

// ---------------------------------------------------------------- profiles, models, budgets

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
function buildProfiles(raw: unknown, problems: string[]): { profiles: Record<string, Profile>; names: string[] } {
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
    };
  }
  return { profiles, names };
}

/** m > M is an error wherever both are known; `inherited` is what an entry falls back on. */
function checkBudget(path: string, own: BudgetPreset, problems: string[], inherited: BudgetPreset = {}): void {
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
  for (const level of EFFORTS) {
    const p = effort?.[level];
    if (p !== undefined) checkBudget(`${path}.${level}`, p, problems);
  }
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `models` as a mapping (its order is the match order) or as a list of `{match, ...}`. */
function readModels(raw: unknown, profileNames: readonly string[], defaults: BudgetPreset, problems: string[]): ModelRule[] {
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
    const { profile, effort, match, ...budget }: FileModelEntry = parsed.data;
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
    rules.push(rule);
  }
  return rules;
}

/** Each entry checked on its own, so a bad one hides no duplicate. Invalid entries are left out. */
function readUpstreams(raw: unknown, problems: string[]): UpstreamConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    problems.push('upstreams: must be a list of URLs or {url, api_key}');
    return [];
  }
  return raw.flatMap((value: unknown, i) => {
    if (typeof value !== 'string' && !isPlainObject(value)) {
      problems.push(`upstreams[${i}]: must be a URL or {url, api_key}`);
      return [];
    }
    const parsed = upstreamSchema.safeParse(value);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, `upstreams[${i}]`, `upstreams[${i}]`));
      return [];
    }
    const { url, api_key, kind } = parsed.data;
    return [{ url: normalizeUrl(url), ...(api_key !== undefined && { apiKey: api_key }), ...(kind !== undefined && { kind }) }];
  });
}

// ---------------------------------------------------------------- assembly and loading

interface FileParts {
  sections: FileSections;
  upstreams?: unknown;
  profiles?: unknown;
  models?: unknown;
}

function readFileParts(raw: unknown, source: string | undefined, problems: string[]): FileParts {
  const parts: FileParts = { sections: {} };
  if (raw === undefined || raw === null) return parts; // no file, or an empty one
  if (!isPlainObject(raw)) {
    problems.push(`${source ?? 'config'}: must be a mapping at the top level`);
    return parts;
  }
  for (const key of Object.keys(raw)) {
    if (!key.startsWith('x-') && !TOP_LEVEL_KEYS.includes(key)) {
      problems.push(`${joinPath('', [key])}: unknown key (known: ${TOP_LEVEL_KEYS.join(', ')})`);
    }
  }
  for (const key of Object.keys(fileSections) as (keyof typeof fileSections)[]) {
    if (raw[key] === undefined) continue;
    const parsed = fileSections[key].safeParse(raw[key]);
    if (parsed.success) (parts.sections as Record<string, unknown>)[key] = parsed.data;
    else problems.push(...zodProblems(parsed.error, key, key));
  }
  return { ...parts, upstreams: raw['upstreams'], profiles: raw['profiles'], models: raw['models'] };
}

function resolveUpstreams(raw: unknown, e: EnvValues, problems: string[], fileUnread: boolean): UpstreamConfig[] {
  const fromFile = readUpstreams(raw, problems);
  const upstreams: UpstreamConfig[] = e.upstreams?.map((url) => ({ url })) ?? fromFile;
  for (const u of upstreams) if (u.apiKey === undefined && e.upstreamApiKey !== undefined) u.apiKey = e.upstreamApiKey;
  const path = (i: number) => (e.upstreams ? `THINKGATE_UPSTREAMS[${i}]` : `upstreams[${i}].url`);
  upstreams.forEach((u, i) => {
    const j = upstreams.findIndex((v) => v.url === u.url);
    if (j < i) problems.push(`${path(i)}: duplicate of ${path(j)}`);
  });
  // Not when the file is unreadable or its list is broken: that problem is listed already.
  const listedEmpty = raw === undefined || (Array.isArray(raw) && raw.length === 0);
  if (upstreams.length === 0 && listedEmpty && !fileUnread && e.upstreams === undefined) {
    problems.push('upstreams: at least one is required (THINKGATE_UPSTREAMS or `upstreams:` in the config file)');
  }
  return upstreams;
}

function assemble(raw: unknown, env: Env, source: string | undefined, early: readonly string[]): Config {
  const problems = [...early];
  const envProblems: string[] = [];
  const e = readEnv(env, envProblems);
  const file = readFileParts(raw, source, problems);
  const upstreams = resolveUpstreams(file.upstreams, e, problems, early.length > 0);
  const explicitDefaults = definedOnly(file.sections.defaults ?? {});
  const defaults = { max_thinking_extensions: 8, thinking_extension: 'Wait', ...explicitDefaults };
  checkBudget('defaults', defaults, problems);
  const { profiles, names } = buildProfiles(file.profiles, problems);
  const models = readModels(file.models, names, defaults, problems);
  problems.push(...envProblems);
  const connections = readConnections(file.sections.server, problems);
  if (problems.length > 0) throw new ConfigError(problems, source === undefined ? 'environment' : `${source} and environment`);

  const { server, auth, response, limits, routing, timeouts, health } = file.sections;
  return deepFreeze<Config>({
    host: e.host ?? server?.host ?? '0.0.0.0',
    port: e.port ?? server?.port ?? 8080,
    logLevel: e.logLevel ?? server?.log_level ?? 'info',
    apiKeys: e.apiKeys ?? auth?.api_keys ?? [],
    upstreams,
    profiles,
    models,
    defaults,
    explicitDefaults,
    reasoningFields: [...new Set(response?.reasoning_fields ?? REASONING_FIELDS)],
    limits: {
      bodyLimitBytes: e.bodyLimitBytes ?? limits?.body_limit_bytes ?? 8 * 1024 * 1024,
      maxUpstreamResponseBytes: limits?.max_upstream_response_bytes ?? 16 * 1024 * 1024,
      maxRelayResponseBytes: limits?.max_relay_response_bytes ?? 256 * 1024 * 1024,
      maxConcurrentRequests: e.maxConcurrent ?? limits?.max_concurrent_requests ?? 1024,
      maxQueue: limits?.max_queue ?? 1024,
      queueTimeoutMs: limits?.queue_timeout_ms ?? 30_000,
      perKeyMaxConcurrent: limits?.per_key_max_concurrent ?? 0,
      maxChoicesPerRequest: limits?.max_choices_per_request ?? 128,
      maxThinkingExtensions: limits?.max_thinking_extensions ?? 32,
      maxSegmentsPerChoice: limits?.max_segments_per_choice ?? 64,
      maxUpstreamBytesPerRequest: limits?.max_upstream_bytes_per_request ?? 256 * 1024 * 1024,
    },
    routing: {
      retries: routing?.retries ?? 2,
      retryBackoffMs: routing?.retry_backoff_ms ?? 100,
      affinity: routing?.affinity ?? 'none',
    },
    timeouts: {
      connectMs: timeouts?.connect_ms ?? 5_000,
      firstTokenMs: timeouts?.first_token_ms ?? 600_000,
      idleMs: timeouts?.idle_ms ?? 120_000,
      requestMs: timeouts?.request_ms ?? 30_000,
    },
    health: { intervalMs: health?.interval_ms ?? 5_000, timeoutMs: health?.timeout_ms ?? 2_000 },
    drainTimeoutMs: e.drainTimeoutMs ?? server?.drain_timeout_ms ?? 30_000,
    sseKeepAliveMs: server?.sse_keepalive_ms ?? 15_000,
    connections,
    metricsAuth: auth?.metrics ?? 'open',
  });
}

function readConnections(server: FileSections['server'], problems: string[]): Config['connections'] {
  const c = {
    requestTimeoutMs: server?.request_timeout_ms ?? 60_000,
    headersTimeoutMs: server?.headers_timeout_ms ?? 15_000,
    keepAliveTimeoutMs: server?.keep_alive_timeout_ms ?? 72_000,
    maxConnections: server?.max_connections ?? 8192,
  };
  // Node refuses a server whose headers deadline is later than its whole-request deadline.
  if (c.headersTimeoutMs > c.requestTimeoutMs) {
    problems.push(`server.headers_timeout_ms: ${c.headersTimeoutMs} exceeds server.request_timeout_ms ${c.requestTimeoutMs}`);
  }
  return c;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * A YAML text -> plain data, with `models` as a Map in the file's key order (a plain object would
 * move integer-like keys first, and the order is the match order).
 */
function parseYaml(text: string, path: string, problems: string[]): unknown {
  // `merge: true` lets operators share blocks with anchors and `<<:` (kept under `x-` keys).
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) problems.push(`${path}: YAML error: ${err.message.split('\n')[0]?.replace(/:$/, '')}`);
    return undefined;
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const node = isMap(doc.contents) ? doc.contents.get('models', true) : undefined;
  if (isPlainObject(data) && isMap(node) && isPlainObject(data['models'])) {
    const models = data['models'];
    const keys = node.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key));
    if (keys.length === Object.keys(models).length && keys.every((k) => Object.hasOwn(models, k))) {
      data['models'] = new Map(keys.map((k) => [k, models[k]]));
    }
  }
  return data;
}

/**
 * The configuration from `env` (usually process.env): THINKGATE_CONFIG's YAML file, if set, with
 * the environment variables over it. Throws ConfigError listing every problem.
 */
export function loadConfig(env: Env, opts: { readFile?: (path: string) => string } = {}): Config {
  const path = env['THINKGATE_CONFIG']?.trim();
  if (path === undefined || path === '') return assemble(undefined, env, undefined, []);
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = parseYaml(readFile(path), path, problems);
  } catch (err) {
    problems.push(`THINKGATE_CONFIG: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return assemble(raw, env, path, problems);
}

/** The same validation for an already-parsed file (tests, embedders). THINKGATE_CONFIG is ignored. */
export function loadConfigFromObject(obj: unknown, env: Env = {}): Config {
  return assemble(obj, env, undefined, []);
}

/** For tests and tools: a YAML text as if it were the config file at `path`. */
export function loadConfigFromYaml(text: string, env: Env = {}, path = 'config.yaml'): Config {
  const problems: string[] = [];
  const raw = parseYaml(text, path, problems);
  return assemble(raw, env, path, problems);
}
