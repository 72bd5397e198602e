/**
 * `npm run bench`: thinkgate's cost, measured against direct access to the vLLM simulator and
 * against LiteLLM's proxy, on loopback, in one run. See bench/README.md for what each figure
 * means and how to read the results.
 *
 * Processes: simulator (fast mode: no per-token delay unless --token-delay-ms), gateway (compiled,
 * its own process), LiteLLM (Python, its own venv), load generator (undici, its own process),
 * and this orchestrator, which only sends batches and reads /proc between them. Per level the
 * targets run interleaved, one batch each per round in a rotating order, so noise hits all alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { mergeBatches, type BatchResult, type BatchSpec } from './batch.js';
import { addDirectDeltas, computeFigures, type BatchSide, type TargetFigures, type UpstreamCounters } from './figures.js';
import { leakCheck, type LeakResult } from './leak.js';
import { ensureLiteLLM, liteLLMVersion, startLiteLLM } from './litellm.js';
import { ProcWatch } from './proc-stats.js';
import { startGateway, startLoadgen, startSim, type Child, type GatewayChild, type LoadgenChild } from './procs.js';
import { headline, renderMarkdown, type BenchResult } from './report.js';
import { parseSettings, USAGE, type Settings, type TargetName } from './settings.js';
import { renderChart } from './svg-chart.js';

const MODEL = 'sim-r1';
const log = (s: string): void => void process.stderr.write(`${s}\n`);

interface Target {
  name: TargetName;
  url: string;
  body: string;
  /** The proxy process; null for direct. */
  watch: ProcWatch | null;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The bench measures the compiled gateway; (re)build dist/ when it is missing or older than src/. */
function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync('dist/src/app.js').mtimeMs;
  } catch {
    // not built
  }
  if (built > newestMtime('src')) return;
  log('== dist/ is missing or older than src/: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error('npm run build failed');
}

function gitCommit(): string | null {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
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

function chatBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: 'What is 6 x 7?' }],
    stream: true,
    stream_options: { include_usage: true },
    ...extra,
  });
}

function stamp(): string {
  return new Date().toISOString().replace(/\..*$/, 'Z').replaceAll(':', '-');
}

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
  const t0 = Date.now();
  // The machine may be shared (other builds and tests): the load average says how much.
  const loadAvgStart = loadavg();
  const outDir = settings.outDir ?? join('bench', 'results', settings.mode === 'quick' ? 'tmp' : '', stamp());
  mkdirSync(outDir, { recursive: true });
  log(`== thinkgate bench (${settings.mode}): levels ${settings.levels.join(', ')}; results in ${outDir}`);
  if (!settings.gatewayDist) ensureBuilt();

  let litellmStatus = settings.targets.includes('litellm') ? 'pending' : 'not requested (--quick without --litellm, or --no-litellm)';
  if (settings.targets.includes('litellm')) {
    log('== LiteLLM: bench/setup-litellm.sh');
    const why = ensureLiteLLM();
    if (why) {
      litellmStatus = `not measured: ${why}`;
      settings.targets = settings.targets.filter((t) => t !== 'litellm');
      log(`!! LiteLLM ${litellmStatus}; running the other targets`);
    }
  }

  const children: Child[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.splice(0).map((c) => c.stop().catch(() => {})));
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));

  try {
    const { think, extend, answer, tokenDelayMs } = settings.sim;
    const simArgs = ['--think', String(think), '--extend', String(extend), '--answer', String(answer), '--delay-ms', String(tokenDelayMs)];
    const sim = await startSim(simArgs, join(outDir, 'sim.log'));
    children.push(sim);
    const simWatch = new ProcWatch(sim.pid);
    const execArgv = ['--expose-gc'];
    if (settings.cpuProf) execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(outDir, 'profiles')}`);
    const gateway: GatewayChild = await startGateway(
      {
        upstreams: [{ url: sim.url }],
        server: { log_level: settings.logLevel },
        models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } },
      },
      { execArgv, logFile: join(outDir, 'gateway.log'), dist: settings.gatewayDist ?? undefined },
    );
    children.push(gateway);
    const gwWatch = new ProcWatch(gateway.pid);
    const loadgen: LoadgenChild = await startLoadgen(join(outDir, 'loadgen.log'));
    children.push(loadgen);
    const lgWatch = new ProcWatch(loadgen.pid);

    const relayBody = chatBody();
    const forcingBody = chatBody({ min_thinking_tokens: settings.forcing.min, max_thinking_tokens: settings.forcing.max });
    const targets: Target[] = [];
    for (const name of settings.targets) {
      if (name === 'direct') targets.push({ name, url: `${sim.url}/v1/chat/completions`, body: relayBody, watch: null });
      if (name === 'thinkgate') targets.push({ name, url: `${gateway.url}/v1/chat/completions`, body: relayBody, watch: gwWatch });
      if (name === 'thinkgate-forcing') targets.push({ name, url: `${gateway.url}/v1/chat/completions`, body: forcingBody, watch: gwWatch });
      if (name === 'litellm') {
        try {
          log('== starting LiteLLM proxy');
          const lite = await startLiteLLM(sim.url, MODEL, outDir);
          children.push(lite);
          const w = new ProcWatch(lite.pid, true);
          await new Promise((r) => setTimeout(r, 1000));
          w.refresh();
          targets.push({ name, url: `${lite.url}/v1/chat/completions`, body: relayBody, watch: w });
          litellmStatus = `measured: litellm ${liteLLMVersion() ?? '?'} (hosted_vllm provider, 1 worker)`;
        } catch (err) {
          litellmStatus = `not measured: ${err instanceof Error ? err.message : String(err)}`;
          log(`!! LiteLLM ${litellmStatus}; running the other targets`);
        }
      }
    }

    const runBatch = async (t: Target, spec: BatchSpec): Promise<{ result: BatchResult; side: BatchSide }> => {
      const up0 = await simCounters(sim.url);
      const cpu0 = { proxy: t.watch?.snapshot().cpuS ?? null, sim: simWatch.snapshot().cpuS, lg: lgWatch.snapshot().cpuS };
      const rssBefore = t.watch ? t.watch.rssBytes() : null;
      t.watch?.startPeak();
      const result = await loadgen.run(spec);
      const peak = t.watch ? t.watch.stopPeak() : null;
      const proxyCpu = t.watch ? t.watch.snapshot().cpuS - cpu0.proxy! : null;
      const up1 = await simCounters(sim.url);
      return {
        result,
        side: {
          proxyCpuS: proxyCpu,
          simCpuS: simWatch.snapshot().cpuS - cpu0.sim,
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

    const levels: TargetFigures[][] = [];
    for (const c of settings.levels) {
      const perBatch = Math.max(c, Math.ceil(settings.requests[c]! / settings.rounds));
      const rounds = Math.max(1, Math.round(settings.requests[c]! / perBatch));
      const warm = Math.max(c, Math.ceil(perBatch / 2));
      const levelTargets = targets.filter((t) => t.name !== 'litellm' || c <= settings.litellmMaxConcurrency);
      const acc = new Map<TargetName, { batches: BatchResult[]; sides: BatchSide[] }>();
      for (const t of levelTargets) acc.set(t.name, { batches: [], sides: [] });
      log(`== concurrency ${c}: ${rounds} rounds x ${perBatch} requests per target (+ warm-up ${warm})`);
      for (let r = 0; r <= rounds; r++) {
        const order = levelTargets.map((_, i) => levelTargets[(i + r) % levelTargets.length]!);
        for (const t of order) {
          const spec: BatchSpec = { url: t.url, body: t.body, concurrency: c, requests: r === 0 ? warm : perBatch };
          const { result, side } = await runBatch(t, spec);
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
            `  TTFT p50 ${f.ttftMs.p50.toFixed(2)} p99 ${f.ttftMs.p99.toFixed(2)} ms  gap p99 ${f.gapMs.p99.toFixed(3)} ms` +
            (f.errors ? `  ERRORS ${f.errors}` : ''),
        );
      }
      levels.push(level);
    }

    let leak: LeakResult | null = null;
    if (settings.leak) {
      log(`== leak check: ${settings.leakRequests} sequential requests through thinkgate`);
      leak = await leakCheck({
        loadgen,
        gateway,
        watch: gwWatch,
        url: `${gateway.url}/v1/chat/completions`,
        bodies: { relay: relayBody, forcing: forcingBody },
        requests: settings.leakRequests,
        log,
      });
      log(`  rss slope ${leak.rssSlopeKiBPer1k.toFixed(1)} KiB/1k requests (r2 ${leak.rssR2.toFixed(2)}), heap ${leak.heapSlopeKiBPer1k.toFixed(1)} KiB/1k`);
    }

    await stopAll();
    const result: BenchResult = {
      version: 1,
      startedAt: new Date(t0).toISOString(),
      durationS: (Date.now() - t0) / 1000,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memGiB: totalmem() / 2 ** 30,
        freeMemGiB: freemem() / 2 ** 30,
        kernel: release(),
        node: process.version,
        commit: gitCommit(),
        loadAvgStart,
        loadAvgEnd: loadavg(),
      },
      settings,
      litellm: litellmStatus,
      levels,
      headline: headline(levels),
      leak,
    };
    writeFileSync(join(outDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    const md = renderMarkdown(result);
    writeFileSync(join(outDir, 'results.md'), md);
    writeFileSync(join(outDir, 'chart.svg'), renderChart(result));
    process.stdout.write(`${md}\n`);
    log(`== done in ${result.durationS.toFixed(0)} s: ${outDir}/{result.json,results.md,chart.svg}`);
  } finally {
    await stopAll();
  }
}

main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (err instanceof Error && err.message === USAGE) process.exit(2);
  process.exit(1);
});
