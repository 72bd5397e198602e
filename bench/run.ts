/**
 * `npm run bench`: thinkgate's cost, measured against direct access to the vLLM simulator, a
 * minimal proxy (the floor, ./minimal-proxy.mjs) and LiteLLM's proxy, on loopback, in one run.
 * See bench/README.md for what each figure means and how to read the results.
 *
 * Scenarios (./scenario.ts, one after the other, each with its own simulators and proxies):
 * fast (64 tokens per upstream write; + CPU per request and the leak check), paced (1 token per
 * write, like real vLLM), stall (event loops blocked periodically). The load generator (its own
 * process) is shared; this orchestrator only sends batches and reads /proc between them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { ensureLiteLLM } from './litellm.js';
import { ProcWatch } from './proc-stats.js';
import { fdLimits, startLoadgen, type Child, type LoadgenChild } from './procs.js';
import { headline, renderMarkdown, type BenchResult } from './report.js';
import { runScenario, type ScenarioDef, type ScenarioOut } from './scenario.js';
import { parseSettings, USAGE, type Settings } from './settings.js';
import { renderChart } from './svg-chart.js';
import { tracingOverhead, twinOverhead } from './tracing-overhead.js';
import { vsMinimal } from './vs-minimal.js';

const log = (s: string): void => void process.stderr.write(`${s}\n`);

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

  // Each stream holds a socket at the load generator and two at a proxy (client and upstream).
  const fd = fdLimits();
  const maxLevel = Math.max(...settings.levels, ...(settings.paced?.levels ?? []), ...(settings.stall?.levels ?? []));
  if (fd.hard < 2 * maxLevel + 256) log(`!! open-file limit ${fd.hard} (hard) is low for ${maxLevel} streams: expect EMFILE errors`);

  try {
    const loadgen: LoadgenChild = await startLoadgen(join(outDir, 'loadgen.log'));
    children.push(loadgen);
    const shared = { settings, outDir, loadgen, lgWatch: new ProcWatch(loadgen.pid), log, track: (c: Child) => void children.push(c) };
    const defs: ScenarioDef[] = [
      {
        name: 'fast',
        levels: settings.levels,
        targets: settings.targets,
        tokensPerWrite: settings.sim.tokensPerWrite,
        tokenDelayMs: settings.sim.tokenDelayMs,
        stall: null,
        perRequest: settings.perRequest !== null,
        leak: settings.leak,
      },
    ];
    // LiteLLM is measured in the fast scenario only (a paced round takes it many minutes).
    const noLite = settings.targets.filter((t) => t !== 'litellm');
    if (settings.paced) {
      // --quick keeps CI's smoke test short: the paced relay without forcing (the full run has both).
      const targets = settings.mode === 'quick' ? noLite.filter((t) => t !== 'thinkgate-forcing' && t !== 'thinkgate-forcing-traced' && t !== 'thinkgate-forcing-twin') : noLite;
      defs.push({ name: 'paced', levels: settings.paced.levels, targets, tokensPerWrite: 1, tokenDelayMs: settings.paced.delayMs, stall: null, perRequest: false, leak: false });
    }
    if (settings.stall) {
      const { ms, everyMs, gapMs } = settings.stall;
      // direct has no event loop of ours to stall; the minimal proxy shows what no retry gives.
      const targets = noLite.filter((t) => t !== 'direct');
      defs.push({ name: 'stall', levels: settings.stall.levels, targets, tokensPerWrite: settings.sim.tokensPerWrite, tokenDelayMs: settings.sim.tokenDelayMs, stall: { ms, everyMs, gapMs }, perRequest: false, leak: false });
    }
    const scenarios: ScenarioOut[] = [];
    for (const def of defs) scenarios.push(await runScenario(def, shared));
    const fast = scenarios[0]!;
    if (settings.targets.includes('litellm')) litellmStatus = fast.litellm ?? litellmStatus;

    await stopAll();
    const result: BenchResult = {
      version: 2,
      startedAt: new Date(t0).toISOString(),
      durationS: (Date.now() - t0) / 1000,
      machine: {
        fdLimit: fd,
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
      levels: fast.levels,
      headline: headline(fast.levels),
      leak: fast.leak,
      scenarios,
      vsMinimal: vsMinimal(scenarios),
      tracing: tracingOverhead(scenarios),
      twin: settings.twinConfig === null ? null : twinOverhead(scenarios),
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
