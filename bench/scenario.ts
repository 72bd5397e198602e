/**
 * One scenario of the bench (fast, paced, stall; ./settings.ts): its own simulators (as many as
 * settings.sims; every proxy spreads over all of them, direct too), gateway, minimal proxy and
 * (fast only) LiteLLM, started for it and stopped after it; the load generator is shared. Per
 * level the targets run interleaved, one batch each per round in a rotating order, after a
 * warm-up batch that is thrown away, so noise hits all alike.
 */
import { join } from 'node:path';
import { mergeBatches, type BatchResult, type BatchSpec } from './batch.js';
import { perRequestFigures, type CpuSample, type PerRequestFigures } from './cpu.js';
import { addDirectDeltas, computeFigures, type BatchSide, type TargetFigures, type UpstreamCounters } from './figures.js';
import { leakCheck, type LeakResult } from './leak.js';
import { liteLLMVersion, startLiteLLM } from './litellm.js';
import { ProcWatch } from './proc-stats.js';
import { stallEnv, startGateway, startMinimalProxy, startOtlpSink, startSim, type Child, type GatewayChild, type LoadgenChild } from './procs.js';
import type { Settings, TargetName } from './settings.js';
import { summarize } from './stats.js';
import type { SinkCount } from './tracing-overhead.js';

export const MODEL = 'sim-r1';

export interface ScenarioDef {
  name: 'fast' | 'paced' | 'stall';
  levels: number[];
  targets: TargetName[];
  tokensPerWrite: number;
  tokenDelayMs: number;
  /** Blocks the event loop of the gateway and of the minimal proxy (./stall.mjs); idle gapMs after each batch. */
  stall: { ms: number; everyMs: number; gapMs: number } | null;
  /** Runs the CPU-per-request measurement (./cpu.ts) after the levels. */
  perRequest: boolean;
  leak: boolean;
}

export interface ScenarioOut {
  name: ScenarioDef['name'];
  tokensPerWrite: number;
  tokenDelayMs: number;
  stall: { ms: number; everyMs: number; gapMs: number } | null;
  levels: TargetFigures[][];
  perRequest: PerRequestFigures[] | null;
  leak: LeakResult | null;
  /** What became of LiteLLM in this scenario; null when it was not a target. */
  litellm: string | null;
  /** --tracing: what the OTLP sink received from the traced gateway over the whole scenario; null without it. */
  tracing?: SinkCount | null;
}

export interface Shared {
  settings: Settings;
  outDir: string;
  loadgen: LoadgenChild;
  lgWatch: ProcWatch;
  log: (s: string) => void;
  /** Registers a child with the orchestrator's Ctrl-C handler. */
  track: (c: Child) => void;
}

interface Target {
  name: TargetName;
  urls: string[];
  body: string;
  /** The proxy process; null for direct. */
  watch: ProcWatch | null;
}

export function chatBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: 'What is 6 x 7?' }],
    stream: true,
    stream_options: { include_usage: true },
    ...extra,
  });
}

async function simCounters(simUrl: string): Promise<UpstreamCounters> {
  const text = await (await fetch(`${simUrl}/metrics`)).text();
  const get = (name: string): number => {
    let t = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) t += Number(m[1]);
    return t;
  };
  return {
    requests: get('sim_requests_total'),
    promptTokens: get('sim_prompt_tokens_total'),
    cachedPromptTokens: get('sim_cached_prompt_tokens_total'),
    generationTokens: get('vllm:generation_tokens_total'),
  };
}

async function allSimCounters(urls: readonly string[]): Promise<UpstreamCounters> {
  const all = await Promise.all(urls.map(simCounters));
  const sum = (k: keyof UpstreamCounters): number => all.reduce((t, c) => t + c[k], 0);
  return { requests: sum('requests'), promptTokens: sum('promptTokens'), cachedPromptTokens: sum('cachedPromptTokens'), generationTokens: sum('generationTokens') };
}

export async function runScenario(def: ScenarioDef, sh: Shared): Promise<ScenarioOut> {
  const { settings, outDir, loadgen, lgWatch, log } = sh;
  const children: Child[] = [];
  const track = (c: Child): void => {
    children.push(c);
    sh.track(c);
  };
  const out: ScenarioOut = { name: def.name, tokensPerWrite: def.tokensPerWrite, tokenDelayMs: def.tokenDelayMs, stall: def.stall, levels: [], perRequest: null, leak: null, litellm: null };
  try {
    const { think, extend, answer } = settings.sim;
    const simArgs = ['--think', String(think), '--extend', String(extend), '--answer', String(answer), '--delay-ms', String(def.tokenDelayMs), '--tokens-per-write', String(def.tokensPerWrite)];
    const sims = await Promise.all(Array.from({ length: settings.sims }, (_, i) => startSim(simArgs, join(outDir, `${def.name}-sim-${i}.log`))));
    sims.forEach(track);
    const simUrls = sims.map((s) => s.url);
    const simWatches = sims.map((s) => new ProcWatch(s.pid));
    const simCpu = (): number => simWatches.reduce((t, w) => t + w.snapshot().cpuS, 0);
    const env = stallEnv(def.stall);
    const execArgv = ['--expose-gc'];
    if (settings.cpuProf) execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(outDir, 'profiles', def.name)}`);
    const gatewayConfig = {
      upstreams: simUrls.map((url) => ({ url })),
      server: { log_level: settings.logLevel },
      // Defaults serve 1,024 requests at once (and queue 1,024): an operator running 4,096
      // streams raises both, or the largest levels measure 429s, not the relay.
      limits: { max_concurrent_requests: Math.max(1024, ...def.levels), max_queue: Math.max(1024, ...def.levels) },
      models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } },
    };
    const traced = def.targets.some((t) => t.endsWith('-traced')) ? settings.tracing : null;
    // With --tracing the untraced gateway is off for sure, whatever OTEL_* the bench inherited.
    const gateway: GatewayChild = await startGateway(gatewayConfig, {
      execArgv,
      logFile: join(outDir, `${def.name}-gateway.log`),
      dist: settings.gatewayDist ?? undefined,
      env: traced ? { ...env, OTEL_SDK_DISABLED: 'true' } : env,
    });
    track(gateway);
    const gwWatch = new ProcWatch(gateway.pid);
    // --tracing: the same gateway, same config, with tracing on (every request sampled: the
    // default parent-based always-on with no client traceparent), exporting to a local sink.
    const sink = traced ? await startOtlpSink({ logFile: join(outDir, `${def.name}-otlp-sink.log`) }) : null;
    if (sink) track(sink);
    let tracedGateway: GatewayChild | null = null;
    if (traced && sink) {
      tracedGateway = await startGateway(gatewayConfig, {
        execArgv: execArgv.map((a) => a.replace(join('profiles', def.name), join('profiles', `${def.name}-traced`))),
        logFile: join(outDir, `${def.name}-gateway-traced.log`),
        dist: settings.gatewayDist ?? undefined,
        env: { ...env, OTEL_SDK_DISABLED: '', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: traced.protocol },
      });
      track(tracedGateway);
    }
    const tracedWatch = tracedGateway ? new ProcWatch(tracedGateway.pid) : null;
    // --twin-config: the same gateway with a config patch, measured beside it (an A/B of a setting).
    let twinGateway: GatewayChild | null = null;
    if (settings.twinConfig && def.targets.some((t) => t.endsWith('-twin'))) {
      twinGateway = await startGateway(mergeConfig(gatewayConfig, settings.twinConfig), {
        execArgv: execArgv.map((a) => a.replace(join('profiles', def.name), join('profiles', `${def.name}-twin`))),
        logFile: join(outDir, `${def.name}-gateway-twin.log`),
        dist: settings.twinDist ?? settings.gatewayDist ?? undefined,
        env,
      });
      track(twinGateway);
    }
    const twinWatch = twinGateway ? new ProcWatch(twinGateway.pid) : null;

    const relayBody = chatBody();
    const forcingBody = chatBody({ min_thinking_tokens: settings.forcing.min, max_thinking_tokens: settings.forcing.max });
    const chat = (base: string): string[] => [`${base}/v1/chat/completions`];
    const targets: Target[] = [];
    for (const name of def.targets) {
      if (name === 'direct') targets.push({ name, urls: simUrls.map((u) => chat(u)[0]!), body: relayBody, watch: null });
      if (name === 'minimal') {
        const mp = await startMinimalProxy(simUrls, { logFile: join(outDir, `${def.name}-minimal.log`), env });
        track(mp);
        targets.push({ name, urls: chat(mp.url), body: relayBody, watch: new ProcWatch(mp.pid) });
      }
      if (name === 'thinkgate') targets.push({ name, urls: chat(gateway.url), body: relayBody, watch: gwWatch });
      if (name === 'thinkgate-forcing') targets.push({ name, urls: chat(gateway.url), body: forcingBody, watch: gwWatch });
      if (name === 'thinkgate-traced' && tracedGateway) targets.push({ name, urls: chat(tracedGateway.url), body: relayBody, watch: tracedWatch });
      if (name === 'thinkgate-twin' && twinGateway) targets.push({ name, urls: chat(twinGateway.url), body: relayBody, watch: twinWatch });
      if (name === 'thinkgate-forcing-twin' && twinGateway) targets.push({ name, urls: chat(twinGateway.url), body: forcingBody, watch: twinWatch });
      if (name === 'thinkgate-forcing-traced' && tracedGateway) targets.push({ name, urls: chat(tracedGateway.url), body: forcingBody, watch: tracedWatch });
      if (name === 'litellm') {
        try {
          log('== starting LiteLLM proxy');
          const lite = await startLiteLLM(simUrls[0]!, MODEL, outDir);
          track(lite);
          const w = new ProcWatch(lite.pid, true);
          await new Promise((r) => setTimeout(r, 1000));
          w.refresh();
          targets.push({ name, urls: chat(lite.url), body: relayBody, watch: w });
          out.litellm = `measured: litellm ${liteLLMVersion() ?? '?'} (hosted_vllm provider, 1 worker, first simulator only)`;
        } catch (err) {
          out.litellm = `not measured: ${err instanceof Error ? err.message : String(err)}`;
          log(`!! LiteLLM ${out.litellm}; running the other targets`);
        }
      }
    }

    const runBatch = async (t: Target, spec: BatchSpec): Promise<{ result: BatchResult; side: BatchSide }> => {
      const up0 = await allSimCounters(simUrls);
      const cpu0 = { proxy: t.watch?.snapshot().cpuS ?? null, sim: simCpu(), lg: lgWatch.snapshot().cpuS };
      const rssBefore = t.watch ? t.watch.rssBytes() : null;
      t.watch?.startPeak();
      const result = await loadgen.run(spec);
      const peak = t.watch ? t.watch.stopPeak() : null;
      const proxyCpu = t.watch ? t.watch.snapshot().cpuS - cpu0.proxy! : null;
      const up1 = await allSimCounters(simUrls);
      return {
        result,
        side: {
          proxyCpuS: proxyCpu,
          simCpuS: simCpu() - cpu0.sim,
          loadgenCpuS: lgWatch.snapshot().cpuS - cpu0.lg,
          proxyRssBefore: rssBefore,
          proxyRssPeak: peak,
          upstream: {
            requests: up1.requests - up0.requests,
            promptTokens: up1.promptTokens - up0.promptTokens,
            cachedPromptTokens: up1.cachedPromptTokens - up0.cachedPromptTokens,
            generationTokens: up1.generationTokens - up0.generationTokens,
          },
        },
      };
    };
    const spec = (t: Target, body: string, concurrency: number, requests: number): BatchSpec => ({
      url: t.urls[0]!,
      urls: t.urls,
      body,
      concurrency,
      requests,
    });

    for (const c of def.levels) {
      const total = settings.requests[c] ?? Math.max(96, 2 * c);
      const perBatch = Math.max(c, Math.ceil(total / settings.rounds));
      const rounds = Math.max(1, Math.round(total / perBatch));
      const warm = Math.max(c, Math.ceil(perBatch / 2));
      const levelTargets = targets.filter((t) => t.name !== 'litellm' || c <= settings.litellmMaxConcurrency);
      const acc = new Map<TargetName, { batches: BatchResult[]; sides: BatchSide[] }>();
      for (const t of levelTargets) acc.set(t.name, { batches: [], sides: [] });
      log(`== ${def.name}, concurrency ${c}: ${rounds} rounds x ${perBatch} requests per target (+ warm-up ${warm})`);
      for (let r = 0; r <= rounds; r++) {
        const order = levelTargets.map((_, i) => levelTargets[(i + r) % levelTargets.length]!);
        for (const t of order) {
          const { result, side } = await runBatch(t, spec(t, t.body, c, r === 0 ? warm : perBatch));
          if (def.stall?.gapMs) await new Promise((done) => setTimeout(done, def.stall!.gapMs));
          if (r === 0) {
            if (result.errors > 0) log(`!! ${t.name} warm-up: ${result.errors}/${result.requests} failed: ${result.errorSamples.join(' | ')}`);
            continue;
          }
          acc.get(t.name)!.batches.push(result);
          acc.get(t.name)!.sides.push(side);
        }
      }
      await loadgen.closePools();
      const level = levelTargets.map((t) => computeFigures(t.name, c, mergeBatches(acc.get(t.name)!.batches), acc.get(t.name)!.sides));
      addDirectDeltas(level);
      for (const f of level) {
        log(
          `  ${f.target.padEnd(18)} ${f.reqPerS.toFixed(1).padStart(8)} req/s ${f.tokPerS.toFixed(0).padStart(8)} tok/s` +
            `  TTFT p50 ${f.ttftMs.p50.toFixed(2)} p99 ${f.ttftMs.p99.toFixed(2)} ms` +
            (f.cpuSPer1kTokens === null ? '' : `  CPU ${(f.cpuSPer1kTokens * 1000).toFixed(1)} us/tok`) +
            (f.tokensPerRead === null ? '' : `  ${f.tokensPerRead.toFixed(1)} tok/read`) +
            (f.errors ? `  ERRORS ${f.errors}` : ''),
        );
      }
      out.levels.push(level);
    }

    if (def.perRequest && settings.perRequest) {
      out.perRequest = await measurePerRequest(targets, settings.perRequest.requests, runBatch, spec, relayBody, log);
      await loadgen.closePools();
    }

    if (sink && tracedGateway) {
      // The batch processor exports every 5 s: stopping the traced gateway flushes what is queued.
      const requests = (await fetch(`${tracedGateway.url}/metrics`).then((r) => r.text()).catch(() => ''))
        .split('\n')
        .filter((l) => l.startsWith('thinkgate_requests_total{'))
        .reduce((t, l) => t + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      await tracedGateway.stop();
      out.tracing = { protocol: traced!.protocol, requests, ...(await sink.count()) };
      log(`  OTLP sink: ${out.tracing.spans} spans in ${out.tracing.posts} exports (${(out.tracing.bytes / 1024).toFixed(0)} KiB, ${out.tracing.protocol}) for ${requests} traced requests`);
    }

    if (def.leak) {
      log(`== leak check: ${settings.leakRequests} sequential requests through thinkgate`);
      out.leak = await leakCheck({
        loadgen,
        gateway,
        watch: gwWatch,
        url: `${gateway.url}/v1/chat/completions`,
        bodies: { relay: relayBody, forcing: forcingBody },
        requests: settings.leakRequests,
        log,
      });
      log(`  rss slope ${out.leak.rssSlopeKiBPer1k.toFixed(1)} KiB/1k requests (r2 ${out.leak.rssR2.toFixed(2)}), heap ${out.leak.heapSlopeKiBPer1k.toFixed(1)} KiB/1k`);
    }
    return out;
  } finally {
    await Promise.all(children.map((c) => c.stop().catch(() => {})));
  }
}

/**
 * CPU per request (./cpu.ts): at one stream, for each proxy (minimal, thinkgate, LiteLLM), batches of
 * 1-token streams (max_tokens 1) and of full-length streams, alternating, after a warm-up. Direct
 * runs the 1-token batches too, in the same rotation: the reference for each proxy's added TTFT.
 */
async function measurePerRequest(
  targets: readonly Target[],
  requests: number,
  runBatch: (t: Target, spec: BatchSpec) => Promise<{ result: BatchResult; side: BatchSide }>,
  spec: (t: Target, body: string, c: number, n: number) => BatchSpec,
  relayBody: string,
  log: (s: string) => void,
): Promise<PerRequestFigures[]> {
  const shortBody = chatBody({ max_tokens: 1 });
  // Every proxy that relays the plain body (forcing needs a thinking budget, not 1-token streams).
  const proxies = targets.filter((t) => t.name === 'minimal' || t.name === 'thinkgate' || t.name === 'thinkgate-traced' || t.name === 'thinkgate-twin' || t.name === 'litellm');
  const direct = targets.find((t) => t.name === 'direct');
  const rotation = direct ? [direct, ...proxies] : proxies;
  const rounds = 2;
  const per = Math.max(1, Math.ceil(requests / rounds));
  log(`== CPU per request: ${rounds} rounds x ${per} 1-token and ${per} full-length requests per proxy at 1 stream`);
  const acc = new Map(rotation.map((t) => [t.name, { short: { cpuS: 0, requests: 0, tokens: 0 }, long: { cpuS: 0, requests: 0, tokens: 0 }, errors: 0, ttftMs: [] as number[] }]));
  const add = (s: CpuSample, r: { result: BatchResult; side: BatchSide }): void => {
    s.cpuS += r.side.proxyCpuS ?? 0;
    s.requests += r.result.ok;
    s.tokens += r.result.relayedTokens;
  };
  for (let r = 0; r <= rounds; r++) {
    for (let i = 0; i < rotation.length; i++) {
      const t = rotation[(i + r) % rotation.length]!;
      const n = r === 0 ? Math.ceil(per / 2) : per;
      const short = await runBatch(t, spec(t, shortBody, 1, n));
      const long = t === direct ? null : await runBatch(t, spec(t, relayBody, 1, n));
      if (r === 0) continue; // warm-up
      const a = acc.get(t.name)!;
      add(a.short, short);
      a.ttftMs.push(...short.result.ttftMs);
      a.errors += short.result.errors;
      if (long) {
        add(a.long, long);
        a.errors += long.result.errors;
      }
    }
  }
  const directP50 = direct ? summarize(acc.get(direct.name)!.ttftMs).p50 : null;
  const out = proxies.map((t) => {
    const a = acc.get(t.name)!;
    return perRequestFigures(t.name, a.short, a.long, a.errors, { p50Ms: summarize(a.ttftMs).p50, directP50Ms: directP50 });
  });
  for (const f of out) {
    log(
      `  ${f.target.padEnd(18)} 1-token streams ${f.shortCpuPerRequestMs?.toFixed(3) ?? 'n/a'} ms CPU each; ` +
        `split: ${f.split ? `${(f.split.perRequestS * 1000).toFixed(3)} ms per request + ${(f.split.perTokenS * 1e6).toFixed(1)} us per token` : 'n/a'}; ` +
        `TTFT p50 ${f.ttftP50Ms?.toFixed(3) ?? 'n/a'} ms (added ${f.addedTtftP50Ms?.toFixed(3) ?? 'n/a'})` +
        (f.errors ? `  ERRORS ${f.errors}` : ''),
    );
  }
  return out;
}

/** `base` with `patch` merged in, objects key by key (arrays and values replaced): --twin-config. */
export function mergeConfig(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
    out[k] = isObj(b) && isObj(v) ? mergeConfig(b, v) : v;
  }
  return out;
}
