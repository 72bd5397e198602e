/**
 * What tracing costs (issue 17, `npm run bench -- --tracing`): each thinkgate target's figures
 * with tracing on (its `-traced` twin: a second gateway process exporting every request's spans
 * to a local OTLP sink, ./otlp-sink.mjs) divided by the same target's with tracing off, measured
 * in the same rounds. CPU per token at every level of every scenario, and CPU per request (the
 * intercept of ./cpu.ts's split) at one stream. Pure functions of the scenarios' figures; tested
 * in test/bench/tracing-overhead.test.ts.
 */
import { ratio, type ScenarioFigures } from './vs-minimal.js';

const fmt = (v: number | null | undefined, digits: number): string => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));

/** What the sink received from one scenario's traced gateway (ScenarioOut.tracing). */
export interface SinkCount {
  protocol: string;
  spans: number;
  posts: number;
  bytes: number;
  /** Requests the traced gateway counted (thinkgate_requests_total), warm-ups included. */
  requests: number;
}

export interface TracingRow {
  scenario: string;
  /** thinkgate (relay) or thinkgate-forcing. */
  target: string;
  concurrency: number;
  /** CPU seconds per 1,000 relayed tokens, off and on. */
  cpuPer1kOff: number | null;
  cpuPer1kOn: number | null;
  /** on / off. */
  cpuPerTokenRatio: number | null;
  tokPerSRatio: number | null;
  /** TTFT p50 on minus off (ms). */
  addedTtftP50Ms: number | null;
  errorsOn: number;
}

export interface TracingPerRequest {
  /** CPU per 1-token request (ms), off and on, and on / off. */
  shortMsOff: number | null;
  shortMsOn: number | null;
  shortRatio: number | null;
  /** The split's per-request and per-token parts, on / off. */
  perRequestRatio: number | null;
  perTokenRatio: number | null;
}

export interface TracingOverhead {
  rows: TracingRow[];
  perRequest: TracingPerRequest | null;
  /** What the sink received, per scenario. */
  sinks: (SinkCount & { scenario: string })[];
}

type WithSink = ScenarioFigures & { tracing?: SinkCount | null };

export function tracingOverhead(scenarios: readonly WithSink[]): TracingOverhead | null {
  return twinRatios(scenarios, '-traced');
}

/** --twin-config: each thinkgate target's `-twin` (a config patch) over the same target, as tracingOverhead. */
export function twinOverhead(scenarios: readonly ScenarioFigures[]): TracingOverhead | null {
  return twinRatios(scenarios, '-twin');
}

function twinRatios(scenarios: readonly WithSink[], suffix: string): TracingOverhead | null {
  const rows: TracingRow[] = [];
  let perRequest: TracingPerRequest | null = null;
  const sinks: TracingOverhead['sinks'] = [];
  for (const sc of scenarios) {
    if (sc.tracing) sinks.push({ scenario: sc.name, ...sc.tracing });
    for (const level of sc.levels) {
      for (const off of level) {
        const on = level.find((f) => f.target === `${off.target}${suffix}`);
        if (!on) continue;
        rows.push({
          scenario: sc.name,
          target: off.target,
          concurrency: off.concurrency,
          cpuPer1kOff: off.cpuSPer1kTokens,
          cpuPer1kOn: on.cpuSPer1kTokens,
          cpuPerTokenRatio: ratio(on.cpuSPer1kTokens, off.cpuSPer1kTokens),
          tokPerSRatio: ratio(on.tokPerS, off.tokPerS),
          addedTtftP50Ms: on.ttftMs.p50 - off.ttftMs.p50,
          errorsOn: on.errors,
        });
      }
    }
    const off = sc.perRequest?.find((p) => p.target === 'thinkgate');
    const on = sc.perRequest?.find((p) => p.target === `thinkgate${suffix}`);
    if (off && on && perRequest === null) {
      perRequest = {
        shortMsOff: off.shortCpuPerRequestMs,
        shortMsOn: on.shortCpuPerRequestMs,
        shortRatio: ratio(on.shortCpuPerRequestMs, off.shortCpuPerRequestMs),
        perRequestRatio: ratio(on.split?.perRequestS, off.split?.perRequestS),
        perTokenRatio: ratio(on.split?.perTokenS, off.split?.perTokenS),
      };
    }
  }
  return rows.length || perRequest ? { rows, perRequest, sinks } : null;
}

const x = (v: number | null): string => (v === null ? '—' : `${fmt(v, 2)}x`);

export function renderTracingOverhead(
  t: TracingOverhead,
  load: { start: number[]; end: number[] },
  twinPatch?: Record<string, unknown>,
  twinDist?: string | null,
): string {
  const out: string[] = [];
  out.push(twinPatch === undefined ? '## Tracing overhead (--tracing): tracing on / off' : '## Config twin (--twin-config, --twin-dist): twin ("on") / base ("off")');
  out.push('');
  const what =
    twinPatch === undefined
      ? 'The same requests, in the same rounds, to two thinkgate processes with one config: tracing off, and tracing on ' +
        '(every request sampled, spans exported over OTLP/HTTP to a local sink that counts and discards them). '
      : `The same requests, in the same rounds, to two thinkgate processes: the base ("off"), and the twin ("on")` +
        (Object.keys(twinPatch).length ? ` with \`${JSON.stringify(twinPatch)}\` merged into its config` : '') +
        (twinDist ? `${Object.keys(twinPatch).length ? ',' : ''} running the build in \`${twinDist}\`` : '') +
        '. ';
  out.push(
    what +
      `Ratios are on / off; load average ${load.start.map((v) => v.toFixed(1)).join(' ')} at start, ${load.end.map((v) => v.toFixed(1)).join(' ')} at end (above ~2 on 2 cores, other work shared the CPUs: treat small ratios as noise).`,
  );
  out.push('');
  if (t.perRequest) {
    const p = t.perRequest;
    out.push(
      `CPU per request (1 stream, 1-token streams): ${fmt(p.shortMsOff, 3)} ms off, ${fmt(p.shortMsOn, 3)} ms on: **${x(p.shortRatio)}**; ` +
        `split into per request / per token: ${x(p.perRequestRatio)} / ${x(p.perTokenRatio)}.`,
    );
    out.push('');
  }
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  out.push(line(['scenario', 'target', 'streams', 'CPU s / 1k tok off', 'on', 'CPU per token on / off', 'tok/s on / off', 'TTFT p50 on - off (ms)', 'errors on']));
  out.push(line(Array(9).fill('---')));
  for (const r of t.rows) {
    out.push(
      line([
        r.scenario,
        r.target,
        String(r.concurrency),
        fmt(r.cpuPer1kOff, 4),
        fmt(r.cpuPer1kOn, 4),
        `**${x(r.cpuPerTokenRatio)}**`,
        x(r.tokPerSRatio),
        r.addedTtftP50Ms === null ? '—' : `${r.addedTtftP50Ms >= 0 ? '+' : ''}${r.addedTtftP50Ms.toFixed(2)}`,
        String(r.errorsOn),
      ]),
    );
  }
  for (const s of t.sinks) {
    out.push('');
    out.push(
      `${s.scenario}: the sink received ${s.spans} spans in ${s.posts} exports (${fmt(s.bytes / 1024, 0)} KiB, ${s.protocol}) ` +
        `for ${s.requests} traced requests (warm-ups included)${s.requests > 0 ? `, ${fmt(s.spans / s.requests, 2)} spans each` : ''}.`,
    );
  }
  return out.join('\n');
}
