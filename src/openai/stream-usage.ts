/**
 * `stream_options` as vLLM 0.32 reads it (entrypoints/serve/utils/api_utils.py, should_include_usage):
 * `include_usage` adds the final usage chunk; `continuous_usage_stats` counts only together with
 * it and puts each choice's usage so far on every chunk (running-usage.ts).
 */
import { RunningUsage } from './running-usage.js';

export interface StreamUsage {
  include: boolean;
  continuous: boolean;
}

export function streamUsage(options: { include_usage?: boolean | null; continuous_usage_stats?: boolean | null } | undefined): StreamUsage {
  const include = options?.include_usage === true;
  return { include, continuous: include && options?.continuous_usage_stats === true };
}

/** The renderer option for continuous usage: choice i's prompt length is its run's prompt. */
export function continuousUsage(usage: StreamUsage, started: { inputs: readonly { promptIds: readonly number[] }[] }): { continuousUsage?: RunningUsage } {
  if (!usage.continuous) return {};
  return { continuousUsage: new RunningUsage((i) => started.inputs[i]?.promptIds.length ?? 0) };
}
