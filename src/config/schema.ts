/**
 * The file's shape, validated with zod: fixed-shape sections where unknown keys are errors and
 * `x-` keys are ignored (YAML anchors), and the problem paths (`a.b[0]["Qwen/*"]`) every message
 * starts with. Keys and their defaults: defaults.ts.
 */
import { z } from 'zod';
import { REASONING_EFFORTS, type ReasoningEffort } from '../profiles/profile.js';
import { TOOL_CALL_PARSER_NAMES } from '../tools/tool-plan.js';
import { LOG_LEVELS, REASONING_FIELDS, UPSTREAM_KINDS } from './types.js';
import { KEY_NAME_PATTERN, MAX_KEY_NAME_LENGTH, MAX_NAMED_KEYS } from '../quota/policy.js';

/** setTimeout's largest delay; Node turns anything above into 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2_147_483_647;
export const intMessage = (min: number, max: number) =>
  max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer ${min}-${max}`;
const requiredOr = (msg: string) => (iss: { input: unknown }) => (iss.input === undefined ? 'required' : msg);

function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  const msg = intMessage(min, max);
  return z.number({ error: requiredOr(msg) }).refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: msg });
}
const ms = (min: number) => int(min, MAX_TIMER_MS);
const text = () => z.string({ error: requiredOr('must be a string') }).min(1, { error: 'must not be empty' });

export function isPlainObject(v: unknown): v is Record<string, unknown> {
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
export function urlProblem(s: string): string | undefined {
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
export const normalizeUrl = (s: string) => s.trim().replace(/\/+$/, '');
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
/** vLLM's --tool-call-parser names thinkgate implements (tools/tool-plan.ts). */
const toolCallParser = z.enum(TOOL_CALL_PARSER_NAMES as [string, ...string[]], { error: `must be one of ${TOOL_CALL_PARSER_NAMES.join(', ')}` });
const effortSchema = section(Object.fromEntries(REASONING_EFFORTS.map((level) => [level, preset])) as Record<ReasoningEffort, typeof preset>);
export const profileSchema = section({
  thinking_start: text().optional(),
  thinking_end: text().optional(),
  forced_close: text().optional(),
  extension: text().optional(),
  open_text: text().optional(),
  end_of_turn: z.array(text()).optional(),
  reflection_phrases: z.array(text()).max(64).optional(),
  answer_prefix: text().optional(),
  early_exit: section({
    probe_interval_tokens: z.number().int().min(1).max(1_000_000).optional(),
    agreements: z.number().int().min(1).max(16).optional(),
    probe_max_tokens: z.number().int().min(1).max(256).optional(),
  }).optional(),
  effort: effortSchema.optional(),
  tool_call_parser: toolCallParser.optional(),
});
const modelEntryShape = { profile: text(), ...budgetShape, effort: effortSchema.optional(), tool_call_parser: toolCallParser.optional() };
export const modelEntrySchema = section(modelEntryShape);
export const modelListEntrySchema = section({ match: text(), ...modelEntryShape });
export const upstreamSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { url: v } : v),
  section({
    url,
    api_key: text().optional(),
    kind: z.enum(UPSTREAM_KINDS, { error: `must be one of ${UPSTREAM_KINDS.join(', ')}` }).optional(),
    keep_alive_timeout_ms: ms(1).optional(),
    max_connections: int(0, 65_536).optional(),
  }),
);

/** One `auth.keys` entry; load.ts checks key-or-sha256 and unique names/keys across entries. */
export const namedKeySchema = section({
  name: text()
    .max(MAX_KEY_NAME_LENGTH, { error: `must be at most ${MAX_KEY_NAME_LENGTH} characters` })
    .regex(KEY_NAME_PATTERN, { error: 'must be letters, digits, _ . - (a metric label)' }),
  key: text().max(4096, { error: 'must be at most 4096 characters' }).optional(),
  sha256: z
    .string({ error: 'must be a string' })
    .regex(/^[0-9a-fA-F]{64}$/, { error: 'must be 64 hex digits (sha256 of the key)' })
    .optional(),
  max_thinking_tokens: int(0).optional(),
  max_n: int(1).optional(),
  thinking_quota: section({ minute: int(1).optional(), hour: int(1).optional(), day: int(1).optional() }).optional(),
  requests_per_minute: int(1).optional(),
  on_quota_exhausted: z.enum(['refuse', 'degrade'], { error: 'must be refuse or degrade' }).optional(),
});

/** The file's top-level sections, each validated on its own so one bad section hides no other problem. */
export const fileSections = {
  server: section({
    host: text().optional(),
    port: int(0, 65535).optional(),
    log_level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
    log_flush_ms: ms(0).optional(),
    drain_timeout_ms: ms(0).optional(),
    sse_keepalive_ms: ms(0).optional(),
    request_timeout_ms: ms(1).optional(),
    headers_timeout_ms: ms(1).optional(),
    keep_alive_timeout_ms: ms(1).optional(),
    max_connections: int(1).optional(),
  }),
  auth: section({
    api_keys: z.array(text(), { error: 'must be a list of strings' }).optional(),
    keys: z
      .array(namedKeySchema, { error: 'must be a list' })
      .max(MAX_NAMED_KEYS, { error: `must hold at most ${MAX_NAMED_KEYS} keys` })
      .optional(),
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
    max_tokens_per_chunk: int(1, 4096).optional(),
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
  quota: section({
    redis_url: z
      .string({ error: 'must be a redis:// or rediss:// URL' })
      .regex(/^rediss?:\/\/\S+$/, { error: 'must be a redis:// or rediss:// URL' })
      .optional(),
    on_redis_error: z.enum(['open', 'closed'], { error: 'must be open or closed' }).optional(),
    redis_timeout_ms: ms(1).optional(),
    charge_every_tokens: int(1).optional(),
    redis_prefix: z.string({ error: 'must be a string' }).max(128, { error: 'must be at most 128 characters' }).optional(),
  }),
  tracing: section({ enabled: z.boolean({ error: 'must be true or false' }).optional() }),
  routing: section({
    retries: int(0, 10).optional(),
    retry_backoff_ms: ms(0).optional(),
    affinity: z.enum(['none', 'prefix'], { error: 'must be none or prefix' }).optional(),
    first_segment: z.enum(['tokenize', 'chat'], { error: 'must be tokenize or chat' }).optional(),
    media: z.enum(['render', 'refuse'], { error: 'must be render or refuse' }).optional(),
  }),
  timeouts: section({
    connect_ms: ms(1).optional(),
    first_token_ms: ms(1).optional(),
    idle_ms: ms(1).optional(),
    request_ms: ms(1).optional(),
  }),
  health: section({ interval_ms: ms(1).optional(), timeout_ms: ms(1).optional() }),
};
export type FileSections = { [K in keyof typeof fileSections]?: z.infer<(typeof fileSections)[K]> };
/** `upstreams`, `profiles` and `models` are validated entry by entry (models keep the file's order). */
export const TOP_LEVEL_KEYS = ['server', 'auth', 'upstreams', 'defaults', 'response', 'limits', 'quota', 'tracing', 'routing', 'timeouts', 'health', 'profiles', 'models'];
export type FileEffort = z.infer<typeof effortSchema>;
export type FileModelEntry = z.infer<typeof modelListEntrySchema> | (z.infer<typeof modelEntrySchema> & { match?: undefined });

/** `a.b[0]["Qwen/*"]`: dotted where a key reads as a name, quoted brackets otherwise. */
export function joinPath(prefix: string, path: readonly PropertyKey[]): string {
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

export function zodProblems(err: z.ZodError, prefix: string, top: string): string[] {
  return err.issues.flatMap((iss) => {
    const keys = iss.code === 'unrecognized_keys' ? iss.keys.map((k) => [...iss.path, k]) : [iss.path];
    return keys.map((p) => `${joinPath(prefix, p) || top}: ${iss.message}`);
  });
}
