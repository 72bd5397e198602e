/**
 * The sweep grid: the cartesian product of the requested values of each dimension (issue 7:
 * `--max-thinking`, `--min-thinking`, `--extensions`, `--effort`; issue 16: `--early-exit`,
 * `--suppress-reflection`, `--aggregate majority --samples`). A dimension the user did not
 * give has the single value "unset" (the field is left out of the request, so the endpoint's
 * defaults apply).
 */
import { REASONING_EFFORTS, type ReasoningEffort } from '../profiles/profile.js';

export const EFFORTS = REASONING_EFFORTS;
export type Effort = ReasoningEffort;

/**
 * An early-exit setting as written on the command line and in setting keys: "off" (field left
 * out), "on" (`thinking_early_exit: true`, the profile's defaults), "I" or "IxA"
 * (`{probe_interval_tokens: I, agreements: A}`).
 */
export type EarlyExitSpec = string;

export interface Setting {
  maxThinking?: number;
  minThinking?: number;
  extensions?: number;
  effort?: Effort;
  earlyExit?: EarlyExitSpec;
  suppressReflection?: boolean;
  /** Served majority vote over this many samples (`n` + `aggregate`); 1 is a plain request. */
  samples?: number;
}

export interface GridSpec {
  maxThinking: number[];
  minThinking: number[];
  extensions: number[];
  effort: Effort[];
  earlyExit: EarlyExitSpec[];
  suppressReflection: boolean[];
  samples: number[];
}

export const DIMENSIONS = ['maxThinking', 'minThinking', 'extensions', 'effort', 'earlyExit', 'suppressReflection', 'samples'] as const;
export type Dimension = (typeof DIMENSIONS)[number];
/** The issue-7 dimensions: always in a setting key (keys of older items.jsonl files stay valid). */
const CORE_DIMENSIONS: readonly Dimension[] = ['maxThinking', 'minThinking', 'extensions', 'effort'];

export const DIMENSION_LABEL: Record<Dimension, string> = {
  maxThinking: 'max',
  minThinking: 'min',
  extensions: 'ext',
  effort: 'effort',
  earlyExit: 'exit',
  suppressReflection: 'nowait',
  samples: 'vote',
};

/** An empty grid spec (every dimension unset). */
export function emptyGridSpec(): GridSpec {
  return { maxThinking: [], minThinking: [], extensions: [], effort: [], earlyExit: [], suppressReflection: [], samples: [] };
}

/** "off,on,64x2,128" -> canonical specs; rejects anything else, zeros, and duplicates. */
export function parseEarlyExitList(s: string): EarlyExitSpec[] {
  const parts = s.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (parts.length === 0) throw new Error('--early-exit: expected a comma-separated list (off, on, INTERVAL or INTERVALxAGREEMENTS)');
  const out = parts.map((p) => {
    if (p === 'off' || p === 'on') return p;
    const m = /^(\d{1,7})(?:x(\d{1,2}))?$/.exec(p);
    if (!m) throw new Error(`--early-exit: "${p}" is not off, on, INTERVAL or INTERVALxAGREEMENTS (e.g. 64x2)`);
    const interval = Number(m[1]);
    if (interval < 1) throw new Error(`--early-exit: "${p}": the probe interval must be at least 1 token`);
    if (m[2] === undefined) return String(interval);
    const agreements = Number(m[2]);
    // The gateway's bounds (src/openai/budget-fields.ts): 1..16 agreements.
    if (agreements < 1 || agreements > 16) throw new Error(`--early-exit: "${p}": agreements must be 1..16`);
    return `${interval}x${agreements}`;
  });
  if (new Set(out).size !== out.length) throw new Error('--early-exit: duplicate values');
  return out;
}

/** The request field of an early-exit spec; undefined for "off" (the field is left out). */
export function earlyExitField(spec: EarlyExitSpec): true | { probe_interval_tokens: number; agreements?: number } | undefined {
  if (spec === 'off') return undefined;
  if (spec === 'on') return true;
  const [i, a] = spec.split('x');
  return a === undefined ? { probe_interval_tokens: Number(i) } : { probe_interval_tokens: Number(i), agreements: Number(a) };
}

/** "off,on" -> [false, true]. */
export function parseOnOffList(flag: string, s: string): boolean[] {
  const parts = s.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (parts.length === 0) throw new Error(`--${flag}: expected off, on, or off,on`);
  const out = parts.map((p) => {
    if (p === 'on' || p === 'true') return true;
    if (p === 'off' || p === 'false') return false;
    throw new Error(`--${flag}: "${p}" is not on or off`);
  });
  if (new Set(out).size !== out.length) throw new Error(`--${flag}: duplicate values`);
  return out;
}

/** "512,1024" -> [512, 1024]; rejects anything but non-negative integers, and duplicates. */
export function parseIntList(flag: string, s: string): number[] {
  const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new Error(`--${flag}: expected a comma-separated list of integers`);
  const out = parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`--${flag}: "${p}" is not a non-negative integer`);
    return Number(p);
  });
  if (new Set(out).size !== out.length) throw new Error(`--${flag}: duplicate values`);
  return out;
}

export function parseEffortList(s: string): Effort[] {
  const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new Error('--effort: expected a comma-separated list');
  return parts.map((p) => {
    if (!(EFFORTS as readonly string[]).includes(p)) throw new Error(`--effort: "${p}" is not one of ${EFFORTS.join(', ')}`);
    return p as Effort;
  });
}

/**
 * All combinations, in the order given (max-thinking outermost), less those with min > max:
 * the gateway rejects them with a 400 (docs/budget-forcing.md), so they are not settings anyone can measure.
 */
export function buildGrid(spec: GridSpec): Setting[] {
  let out: Setting[] = [{}];
  // Outermost first: each dimension multiplies the settings so far, in the order of DIMENSIONS.
  for (const d of DIMENSIONS) {
    const xs = spec[d] as readonly Setting[Dimension][];
    if (xs.length === 0) continue;
    out = out.flatMap((s) => xs.map((v) => ({ ...s, [d]: v })));
  }
  return out.filter((s) => !(s.minThinking !== undefined && s.maxThinking !== undefined && s.minThinking > s.maxThinking));
}

/** A dimension's value as a key shows it: "on"/"off" for suppression, "-" when unset. */
export function showValue(s: Setting, d: Dimension): string {
  const v = s[d];
  if (v === undefined) return '-';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return String(v);
}

/**
 * Stable, readable key of a setting: "max=512 min=- ext=1 effort=-", then each issue-16
 * dimension only when set ("... exit=64x2 nowait=on vote=4"), so keys of older runs stay valid.
 */
export function settingKey(s: Setting): string {
  return DIMENSIONS.filter((d) => CORE_DIMENSIONS.includes(d) || s[d] !== undefined)
    .map((d) => `${DIMENSION_LABEL[d]}=${showValue(s, d)}`)
    .join(' ');
}

/** True when a setting uses none of the issue-16 methods: plain budget forcing. */
export function isPlain(s: Setting): boolean {
  return (s.earlyExit === undefined || s.earlyExit === 'off') && s.suppressReflection !== true && (s.samples ?? 1) <= 1;
}

/** The dimensions with more than one value: the ones the sweep varies. */
export function sweptDimensions(spec: GridSpec): Dimension[] {
  return DIMENSIONS.filter((d) => spec[d].length > 1);
}

/**
 * Sort key along a dimension: effort by its order in EFFORTS, numbers as numbers, suppression
 * off before on, early exit off first, then by probe interval (longer = closer to no exit), "on" last.
 */
export function dimensionRank(s: Setting, d: Dimension): number {
  const v = s[d];
  if (v === undefined) return -1;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (d === 'earlyExit') {
    if (v === 'off') return 0;
    if (v === 'on') return Number.MAX_SAFE_INTEGER;
    const [i, a] = v.split('x');
    return Number(i) * 100 + Number(a ?? 0);
  }
  return EFFORTS.indexOf(v as Effort);
}
