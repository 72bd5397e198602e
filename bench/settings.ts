/**
 * Command-line flags of `npm run bench` and the settings they make. Modes:
 * - default: concurrency 1, 16, 64, 256; LiteLLM included; the paced scenario at 64 and 256;
 *   CPU per request at one stream.
 * - --full: adds 1024, 2048 and 4096 streams (several simulators), the stalled-loop scenario
 *   and 2,000-token thinking (--long).
 * - --quick: 1, 16, 64 with few requests and short streams, no LiteLLM unless --litellm, a short
 *   paced scenario at 16 streams and CPU per request from few requests, written under
 *   bench/results/tmp/ (CI's smoke test: under 60 s, nothing asserted).
 * Scenarios (issue 14): `fast` (the simulator writes 64 tokens per socket write: the relay's cost
 * at saturation), `paced` (1 token per write, like real vLLM), `stall` (the gateway's and the
 * minimal proxy's event loop blocked for --stall-ms every --stall-every-ms).
 * --tracing (issue 17): a second thinkgate process with OpenTelemetry tracing on, exporting to a
 * local OTLP sink (./otlp-sink.mjs), measured beside the untraced one in every scenario (targets
 * thinkgate-traced, thinkgate-forcing-traced) and in CPU per request; the summary gives on/off ratios.
 * Request counts are fixed per level (the same for every target) and split over the measured
 * rounds, a batch never smaller than the concurrency (so every stream is open at once; 1024
 * gets one round); a warm-up batch of half a batch, at least one request per connection, first.
 */
import { parseArgs } from 'node:util';

export type TargetName =
  | 'direct'
  | 'minimal'
  | 'thinkgate'
  | 'thinkgate-forcing'
  | 'litellm'
  | 'thinkgate-traced'
  | 'thinkgate-forcing-traced'
  | 'thinkgate-twin'
  | 'thinkgate-forcing-twin';
/** The default targets; the traced ones come with --tracing. */
export const ALL_TARGETS: readonly TargetName[] = ['direct', 'minimal', 'thinkgate', 'thinkgate-forcing', 'litellm'];
/** Each thinkgate target's traced twin (--tracing): the same requests to a gateway with tracing on. */
export const TRACED_TWIN: Partial<Record<TargetName, TargetName>> = { thinkgate: 'thinkgate-traced', 'thinkgate-forcing': 'thinkgate-forcing-traced' };
/** Each thinkgate target's config twin (--twin-config): the same requests to a gateway whose config differs by a patch. */
export const CONFIG_TWIN: Partial<Record<TargetName, TargetName>> = { thinkgate: 'thinkgate-twin', 'thinkgate-forcing': 'thinkgate-forcing-twin' };
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** One simulator process serves about this many streams well; more streams get more processes. */
export const STREAMS_PER_SIM = 1024;

export interface Settings {
  mode: 'quick' | 'default' | 'full';
  levels: number[];
  /** Measured requests per target and level (warm-up excluded). */
  requests: Record<number, number>;
  rounds: number;
  targets: TargetName[];
  sim: { think: number; extend: number; answer: number; tokenDelayMs: number; tokensPerWrite: number };
  /** Simulator processes (the gateway and the minimal proxy spread over all; direct too). */
  sims: number;
  /**
   * The paced scenario, at these levels; null: not run. One token per upstream write, each
   * stream's tokens `delayMs` apart, so a proxy that keeps up reads one token per socket read
   * (like real vLLM: one token per engine step, every 10-30 ms). Without a delay the simulator
   * outruns the proxies on 2 cores and their reads batch several tokens again.
   */
  paced: { levels: number[]; delayMs: number } | null;
  /** CPU per request: this many 1-token and full-length requests per proxy at 1 stream; null: not run. */
  perRequest: { requests: number } | null;
  /** The stalled-loop scenario; null: not run. */
  stall: { ms: number; everyMs: number; levels: number[]; gapMs: number } | null;
  /** min = max thinking tokens for thinkgate-forcing: two extensions, then truncation (see forcingBudget). */
  forcing: { min: number; max: number };
  /** LiteLLM is skipped above this concurrency (at 1024 streams one round takes it ~10 minutes). */
  litellmMaxConcurrency: number;
  leak: boolean;
  leakRequests: number;
  cpuProf: boolean;
  logLevel: string;
  outDir: string | null;
  /** Another compiled gateway (a dist/ folder) to measure instead of ./dist: A/B of a change. */
  gatewayDist: string | null;
  /** --tracing: the traced twin gateway's OTLP encoding; null: tracing not measured. */
  tracing: { protocol: OtlpProtocol } | null;
  /**
   * --twin-config: a second thinkgate process whose config is the bench's with this patch merged
   * in (e.g. `{"response":{"max_tokens_per_chunk":1}}`), measured beside the first in the same
   * rounds (targets thinkgate-twin, thinkgate-forcing-twin); the summary gives twin / base ratios.
   */
  twinConfig: Record<string, unknown> | null;
  /**
   * --twin-dist: the twin runs this compiled gateway (a dist/ folder) instead of the base's: an
   * A/B of a code change in the same rounds (with --twin-config too, both differ). Implies a twin.
   */
  twinDist: string | null;
}

export const USAGE = `usage: npm run bench -- [--quick | --full] [--leak] [--no-litellm | --litellm]
  [--levels 1,16,64] [--requests N] [--rounds N] [--targets direct,minimal,thinkgate,...]
  [--think N --extend N --answer N | --long] [--token-delay-ms N] [--tokens-per-write N] [--sims N]
  [--paced-levels 64,256 --paced-delay-ms 5 | --no-paced] [--per-request-requests N | --no-per-request]
  [--stall | --no-stall] [--stall-ms 2500] [--stall-every-ms 8000] [--stall-levels 512] [--stall-gap-ms 5200]
  [--leak-requests N]
  [--litellm-max-concurrency N] [--gateway-dist DIR] [--tracing [--tracing-protocol http/protobuf|http/json]]
  [--twin-config JSON] [--twin-dist DIR] [--cpu-prof] [--log-level info] [--out DIR]`;

/**
 * The simulator thinks `think` tokens, then `extend` more after each "Wait" (src/sim/model.ts).
 * With m = M = think + 1.5 * extend + 5: the close at `think` is dropped (extension 1), the close
 * at ~think + extend too (extension 2), and the span reaches M before the third close: truncated.
 */
export function forcingBudget(think: number, extend: number): number {
  return think + Math.round(1.5 * extend) + 5;
}

function ints(flag: string, raw: string): number[] {
  const out = raw.split(',').map((x) => Number(x.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${flag}: expected positive integers, got "${raw}"`);
  return out;
}

function int(flag: string, raw: string | undefined, min = 0): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer >= ${min}, got "${raw}"`);
  return n;
}

export function parseSettings(argv: readonly string[]): Settings {
  const { values: v } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean' },
      full: { type: 'boolean' },
      leak: { type: 'boolean' },
      litellm: { type: 'boolean' },
      'no-litellm': { type: 'boolean' },
      levels: { type: 'string' },
      requests: { type: 'string' },
      rounds: { type: 'string' },
      targets: { type: 'string' },
      think: { type: 'string' },
      extend: { type: 'string' },
      answer: { type: 'string' },
      'token-delay-ms': { type: 'string' },
      'tokens-per-write': { type: 'string' },
      long: { type: 'boolean' },
      sims: { type: 'string' },
      'paced-levels': { type: 'string' },
      'no-paced': { type: 'boolean' },
      'paced-delay-ms': { type: 'string' },
      'per-request-requests': { type: 'string' },
      'no-per-request': { type: 'boolean' },
      stall: { type: 'boolean' },
      'no-stall': { type: 'boolean' },
      'stall-ms': { type: 'string' },
      'stall-every-ms': { type: 'string' },
      'stall-levels': { type: 'string' },
      'stall-gap-ms': { type: 'string' },
      'leak-requests': { type: 'string' },
      'litellm-max-concurrency': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'log-level': { type: 'string' },
      out: { type: 'string' },
      'gateway-dist': { type: 'string' },
      tracing: { type: 'boolean' },
      'tracing-protocol': { type: 'string' },
      'twin-config': { type: 'string' },
      'twin-dist': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) throw new Error(USAGE);
  if (v.quick && v.full) throw new Error('--quick and --full exclude each other');
  const mode = v.quick ? 'quick' : v.full ? 'full' : 'default';
  const levels = v.levels
    ? ints('--levels', v.levels)
    : mode === 'quick'
      ? [1, 16, 64]
      : mode === 'full'
        ? [1, 16, 64, 256, 1024, 2048, 4096]
        : [1, 16, 64, 256];
  const fixed = int('--requests', v.requests, 1);
  // Enough requests that each measured round keeps every connection busy several times over.
  // LiteLLM relays ~400 tokens/s on 2 cores: these counts keep a default run near 10 minutes.
  const perLevel = (c: number): number =>
    fixed ?? (mode === 'quick' ? Math.max(24, 2 * c) : c === 1 ? 60 : c >= 1024 ? c : Math.max(96, 2 * c));
  // --long (and --full): 2,000 thinking tokens per request, the stream length issue 14 measured.
  const long = v.long === true || (mode === 'full' && v.think === undefined);
  const think = int('--think', v.think, 1) ?? (long ? 2000 : mode === 'quick' ? 60 : 100);
  const extend = int('--extend', v.extend, 1) ?? (mode === 'quick' ? 20 : 25);
  const answer = int('--answer', v.answer, 1) ?? 25;
  let targets = v.targets ? (v.targets.split(',').map((s) => s.trim()) as TargetName[]) : [...ALL_TARGETS];
  for (const t of targets) if (!ALL_TARGETS.includes(t) && !Object.values(TRACED_TWIN).includes(t) && !Object.values(CONFIG_TWIN).includes(t)) throw new Error(`--targets: unknown target "${t}"`);
  if (!targets.includes('direct')) throw new Error('--targets must include direct (the baseline)');
  const protocol = v['tracing-protocol'] ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') throw new Error(`--tracing-protocol: http/protobuf or http/json, got "${protocol}"`);
  if (v['tracing-protocol'] !== undefined && !v.tracing) throw new Error('--tracing-protocol needs --tracing');
  // Each thinkgate target gets its traced twin right after it (so rounds rotate them apart alike).
  if (v.tracing) targets = targets.flatMap((t) => (TRACED_TWIN[t] && !targets.includes(TRACED_TWIN[t]) ? [t, TRACED_TWIN[t]] : [t]));
  let twinConfig: Record<string, unknown> | null = null;
  if (v['twin-config'] !== undefined) {
    const parsed: unknown = JSON.parse(v['twin-config']);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('--twin-config: a JSON object (a config patch)');
    twinConfig = parsed as Record<string, unknown>;
  }
  if (v['twin-dist'] !== undefined) twinConfig ??= {};
  if (twinConfig !== null) {
    if (v.tracing) throw new Error('--twin-config/--twin-dist and --tracing exclude each other (one twin per run)');
    targets = targets.flatMap((t) => (CONFIG_TWIN[t] && !targets.includes(CONFIG_TWIN[t]) ? [t, CONFIG_TWIN[t]] : [t]));
  }
  const withLiteLLM = v['no-litellm'] ? false : mode === 'quick' ? v.litellm === true : true;
  if (!withLiteLLM) targets = targets.filter((t) => t !== 'litellm');
  const m = forcingBudget(think, extend);
  const paced = v['no-paced']
    ? null
    : {
        levels: v['paced-levels'] ? ints('--paced-levels', v['paced-levels']) : mode === 'quick' ? [16] : [64, 256],
        // quick: 2 ms keeps CI's smoke test short (still ~1 token per read at 16 streams).
        delayMs: int('--paced-delay-ms', v['paced-delay-ms'], 1) ?? (mode === 'quick' ? 2 : 5),
      };
  const withStall = v['no-stall'] ? false : v.stall === true || mode === 'full';
  const stall = withStall
    ? {
        ms: int('--stall-ms', v['stall-ms'], 1) ?? 2500,
        everyMs: int('--stall-every-ms', v['stall-every-ms'], 1) ?? 8000,
        levels: v['stall-levels'] ? ints('--stall-levels', v['stall-levels']) : mode === 'full' ? [512, 1024] : [512],
        // Idle time after each batch: the upstream sockets sit idle past the simulator's 5 s
        // keep-alive (Node's default, like uvicorn's) while undici's own 4 s timer may be held
        // up by a stall: the race of issue 14 needs idle sockets, which a closed loop rarely has.
        gapMs: int('--stall-gap-ms', v['stall-gap-ms']) ?? 5200,
      }
    : null;
  const maxLevel = Math.max(...levels, ...(paced?.levels ?? []), ...(stall?.levels ?? []));
  return {
    mode,
    levels,
    requests: Object.fromEntries([...new Set([...levels, ...(paced?.levels ?? []), ...(stall?.levels ?? [])])].map((c) => [c, perLevel(c)])),
    rounds: int('--rounds', v.rounds, 1) ?? 2,
    targets,
    sim: {
      think,
      extend,
      answer,
      tokenDelayMs: int('--token-delay-ms', v['token-delay-ms']) ?? 0,
      tokensPerWrite: int('--tokens-per-write', v['tokens-per-write'], 1) ?? 64,
    },
    sims: int('--sims', v.sims, 1) ?? Math.ceil(maxLevel / STREAMS_PER_SIM),
    paced,
    perRequest: v['no-per-request'] ? null : { requests: int('--per-request-requests', v['per-request-requests'], 2) ?? (mode === 'quick' ? 12 : 2000) },
    stall,
    forcing: { min: m, max: m },
    litellmMaxConcurrency: int('--litellm-max-concurrency', v['litellm-max-concurrency'], 1) ?? 256,
    leak: v.leak === true,
    leakRequests: int('--leak-requests', v['leak-requests'], 100) ?? 20_000,
    cpuProf: v['cpu-prof'] === true,
    logLevel: v['log-level'] ?? 'info',
    outDir: v.out ?? null,
    gatewayDist: v['gateway-dist'] ?? null,
    tracing: v.tracing || targets.some((t) => t.endsWith('-traced')) ? { protocol } : null,
    twinConfig,
    twinDist: v['twin-dist'] ?? null,
  };
}
