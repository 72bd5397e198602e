/**
 * The sweep grid: the cartesian product of the requested values of each dimension (issue 7:
 * `--max-thinking`, `--min-thinking`, `--extensions`, `--effort`). A dimension the user did not
 * give has the single value "unset" (the field is left out of the request, so the endpoint's
 * defaults apply).
 */
import { REASONING_EFFORTS, type ReasoningEffort } from '../profiles/profile.js';

export const EFFORTS = REASONING_EFFORTS;
export type Effort = ReasoningEffort;

export interface Setting {
  maxThinking?: number;
  minThinking?: number;
  extensions?: number;
  effort?: Effort;
}

export interface GridSpec {
  maxThinking: number[];
  minThinking: number[];
  extensions: number[];
  effort: Effort[];
}

export const DIMENSIONS = ['maxThinking', 'minThinking', 'extensions', 'effort'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const DIMENSION_LABEL: Record<Dimension, string> = {
  maxThinking: 'max',
  minThinking: 'min',
  extensions: 'ext',
  effort: 'effort',
};

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
  const vals = <T>(xs: T[]): (T | undefined)[] => (xs.length === 0 ? [undefined] : xs);
  const out: Setting[] = [];
  for (const maxThinking of vals(spec.maxThinking))
    for (const minThinking of vals(spec.minThinking))
      for (const extensions of vals(spec.extensions))
        for (const effort of vals(spec.effort)) {
          const s: Setting = {};
          if (maxThinking !== undefined) s.maxThinking = maxThinking;
          if (minThinking !== undefined) s.minThinking = minThinking;
          if (extensions !== undefined) s.extensions = extensions;
          if (effort !== undefined) s.effort = effort;
          if (minThinking !== undefined && maxThinking !== undefined && minThinking > maxThinking) continue;
          out.push(s);
        }
  return out;
}

/** Stable, readable key of a setting: "max=512 min=- ext=1 effort=-". */
export function settingKey(s: Setting): string {
  return DIMENSIONS.map((d) => `${DIMENSION_LABEL[d]}=${s[d] ?? '-'}`).join(' ');
}

/** The dimensions with more than one value: the ones the sweep varies. */
export function sweptDimensions(spec: GridSpec): Dimension[] {
  return DIMENSIONS.filter((d) => spec[d].length > 1);
}

/** Sort key along a dimension: effort by its order in EFFORTS, numbers as numbers. */
export function dimensionRank(s: Setting, d: Dimension): number {
  const v = s[d];
  if (v === undefined) return -1;
  return typeof v === 'number' ? v : EFFORTS.indexOf(v);
}
