/**
 * Command-line flags of `npm run bench` and the settings they make. Modes:
 * - default: concurrency 1, 16, 64, 256; LiteLLM included.
 * - --full: adds 1024.
 * - --quick: 1, 16, 64 with few requests and short streams, no LiteLLM unless --litellm,
 *   written under bench/results/tmp/ (CI's smoke test: under 60 s, nothing asserted).
 * Request counts are fixed per level (the same for every target) and split over the measured
 * rounds, a batch never smaller than the concurrency (so every stream is open at once; 1024
 * gets one round); a warm-up batch of half a batch, at least one request per connection, first.
 */
import { parseArgs } from 'node:util';

export type TargetName = 'direct' | 'thinkgate' | 'thinkgate-forcing' | 'litellm';
export const ALL_TARGETS: readonly TargetName[] = ['direct', 'thinkgate', 'thinkgate-forcing', 'litellm'];

export interface Settings {
  mode: 'quick' | 'default' | 'full';
  levels: number[];
  /** Measured requests per target and level (warm-up excluded). */
  requests: Record<number, number>;
  rounds: number;
  targets: TargetName[];
  sim: { think: number; extend: number; answer: number; tokenDelayMs: number };
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
}

export const USAGE = `usage: npm run bench -- [--quick | --full] [--leak] [--no-litellm | --litellm]
  [--levels 1,16,64] [--requests N] [--rounds N] [--targets direct,thinkgate,...]
  [--think N --extend N --answer N] [--token-delay-ms N] [--leak-requests N]
  [--litellm-max-concurrency N] [--gateway-dist DIR]
  [--cpu-prof] [--log-level info] [--out DIR]`;

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
      'leak-requests': { type: 'string' },
      'litellm-max-concurrency': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'log-level': { type: 'string' },
      out: { type: 'string' },
      'gateway-dist': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) throw new Error(USAGE);
  if (v.quick && v.full) throw new Error('--quick and --full exclude each other');
  const mode = v.quick ? 'quick' : v.full ? 'full' : 'default';
  const levels = v.levels ? ints('--levels', v.levels) : mode === 'quick' ? [1, 16, 64] : mode === 'full' ? [1, 16, 64, 256, 1024] : [1, 16, 64, 256];
  const fixed = int('--requests', v.requests, 1);
  // Enough requests that each measured round keeps every connection busy several times over.
  // LiteLLM relays ~400 tokens/s on 2 cores: these counts keep a default run near 10 minutes.
  const perLevel = (c: number): number =>
    fixed ?? (mode === 'quick' ? Math.max(24, 2 * c) : c === 1 ? 60 : c >= 1024 ? c : Math.max(96, 2 * c));
  const think = int('--think', v.think, 1) ?? (mode === 'quick' ? 60 : 100);
  const extend = int('--extend', v.extend, 1) ?? (mode === 'quick' ? 20 : 25);
  const answer = int('--answer', v.answer, 1) ?? 25;
  let targets = v.targets ? (v.targets.split(',').map((s) => s.trim()) as TargetName[]) : [...ALL_TARGETS];
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`--targets: unknown target "${t}"`);
  if (!targets.includes('direct')) throw new Error('--targets must include direct (the baseline)');
  const withLiteLLM = v['no-litellm'] ? false : mode === 'quick' ? v.litellm === true : true;
  if (!withLiteLLM) targets = targets.filter((t) => t !== 'litellm');
  const m = forcingBudget(think, extend);
  return {
    mode,
    levels,
    requests: Object.fromEntries(levels.map((c) => [c, perLevel(c)])),
    rounds: int('--rounds', v.rounds, 1) ?? 2,
    targets,
    sim: { think, extend, answer, tokenDelayMs: int('--token-delay-ms', v['token-delay-ms']) ?? 0 },
    forcing: { min: m, max: m },
    litellmMaxConcurrency: int('--litellm-max-concurrency', v['litellm-max-concurrency'], 1) ?? 256,
    leak: v.leak === true,
    leakRequests: int('--leak-requests', v['leak-requests'], 100) ?? 20_000,
    cpuProf: v['cpu-prof'] === true,
    logLevel: v['log-level'] ?? 'info',
    outDir: v.out ?? null,
    gatewayDist: v['gateway-dist'] ?? null,
  };
}
