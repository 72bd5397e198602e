/**
 * CPU per token and CPU per request of a proxy, from its own /proc counters (./proc-stats.ts).
 *
 * Per token: the proxy's CPU over a batch divided by the tokens it relayed (the streams'
 * usage.completion_tokens), so per-request work spread over short streams inflates it; long
 * streams (--long: 2,000 thinking tokens) make it the per-token cost.
 *
 * Per request: derived from two stream lengths measured back to back at one stream, a 1-token
 * stream (max_tokens 1) and the full one. The proxy's CPU per request is modelled as
 * a + b x tokens; two points give b (per token) and a (per request). Why two lengths rather
 * than the 1-token stream alone: a 1-token stream still relays a role chunk, one token, a
 * usage chunk and [DONE], and thinkgate's per-token path costs more than the floor's, so the
 * line's intercept separates the per-request part from the per-token part for every proxy
 * alike. With /proc's 10 ms clock ticks the batches must be long enough to span many ticks.
 */

export interface CpuSample {
  /** The proxy's CPU seconds over the batches (user + system). */
  cpuS: number;
  /** Successful requests. */
  requests: number;
  /** Relayed tokens. */
  tokens: number;
}

export interface CpuSplit {
  /** a: seconds of CPU per request, independent of its length. */
  perRequestS: number;
  /** b: seconds of CPU per relayed token. */
  perTokenS: number;
}

/** The line through (tokens/request, CPU/request) at two stream lengths; null without two distinct lengths. */
export function splitCpu(short: CpuSample, long: CpuSample): CpuSplit | null {
  if (short.requests <= 0 || long.requests <= 0) return null;
  const ts = short.tokens / short.requests;
  const tl = long.tokens / long.requests;
  if (!(tl > ts)) return null;
  const cs = short.cpuS / short.requests;
  const cl = long.cpuS / long.requests;
  const perTokenS = (cl - cs) / (tl - ts);
  return { perRequestS: cs - perTokenS * ts, perTokenS };
}

/** Microseconds of proxy CPU per relayed token from a figure's CPU seconds per 1,000 tokens. */
export function usPerToken(cpuSPer1kTokens: number | null | undefined): number | null {
  return cpuSPer1kTokens === null || cpuSPer1kTokens === undefined ? null : cpuSPer1kTokens * 1000;
}

/** What the per-request measurement reports for one proxy (raw numbers in result.json). */
export interface PerRequestFigures {
  target: string;
  short: CpuSample;
  long: CpuSample;
  /** CPU per request of the 1-token batches alone (an upper bound of the per-request part). */
  shortCpuPerRequestMs: number | null;
  split: CpuSplit | null;
  errors: number;
  /**
   * p50 time to first token of the 1-token streams, and that minus direct's p50 in the same
   * rounds (null without direct). Thousands of one-stream requests: a steadier added-TTFT figure
   * than a level's few (issue 14's goal is at one stream).
   */
  ttftP50Ms: number | null;
  addedTtftP50Ms: number | null;
}

export function perRequestFigures(
  target: string,
  short: CpuSample,
  long: CpuSample,
  errors: number,
  ttft: { p50Ms: number; directP50Ms: number | null } | null = null,
): PerRequestFigures {
  const p50 = ttft !== null && Number.isFinite(ttft.p50Ms) ? ttft.p50Ms : null;
  const direct = ttft?.directP50Ms ?? null;
  return {
    target,
    short,
    long,
    shortCpuPerRequestMs: short.requests > 0 ? (short.cpuS / short.requests) * 1000 : null,
    split: splitCpu(short, long),
    errors,
    ttftP50Ms: p50,
    addedTtftP50Ms: p50 !== null && direct !== null && Number.isFinite(direct) ? p50 - direct : null,
  };
}
