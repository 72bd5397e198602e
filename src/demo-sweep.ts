/**
 * `npm run demo:sweep`: a test-time scaling sweep (issue 7) against a SIMULATED model, so that
 * anyone can see the s1 paper's curves (Muennighoff et al. 2025, arXiv 2501.19393, Figures 1
 * and 4) with no GPU. It starts the vLLM simulator (whose scripted solver, src/sim/solver.ts,
 * answers the project's arithmetic word problems correctly more often when it thinks longer)
 * and the gateway in-process on loopback port 0, then runs `thinkgate sweep` five times over
 * examples/arith/arith-word-problems.jsonl:
 *
 *   budget/  --max-thinking 32,64,128,256,512   (truncation: the paper's "budget forcing" sweep)
 *   wait/    --extensions 0,1,2,4 with --min-thinking = --max-thinking = 4096 (the "Wait" sweep)
 *   exit/    --early-exit off,16x3,32x2,64x2 at --max-thinking 4096 (answer-convergence early exit)
 *   nowait/  --suppress-reflection off,on at --max-thinking 4096 (NoWait)
 *   vote/    --aggregate majority --samples 1,2,4,8 at --max-thinking 4096 (served majority vote)
 *
 * and merges them into one chart and one table (compare.svg, summary.md, summary.json in --out):
 * accuracy against compute tokens per question (thinking + probe tokens, all samples), and the
 * tokens each method saves at the accuracy it reaches against the budget curve (sweep/compare.ts).
 *
 * Flags: --out DIR (default out/demo-sweep), --quick (fewer settings per sweep, for CI).
 * Numbers it prints are properties of the simulator's script, NOT of any real model.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { loadConfigFromObject } from './config/index.js';
import { startSimulator } from './sim/server.js';
import { compareSummaries, renderComparison } from './sweep/compare.js';
import { sweepMain, type SweepIo } from './sweep/main.js';
import type { Summary } from './sweep/metrics.js';
import { renderSvg } from './sweep/plot.js';

export const DATASET = resolve(dirname(fileURLToPath(import.meta.url)), '../examples/arith/arith-word-problems.jsonl');
const LABEL = 'SIMULATED model (the vLLM simulator\'s scripted solver), not a real LLM';

export interface DemoSweepOptions {
  out: string;
  quick: boolean;
  /** Where progress and the report go (the sweeps' own progress bars are turned off). */
  log?: (s: string) => void;
  /** The dataset (default: the project's arithmetic word problems). */
  data?: string;
  /** Log only the comparison, not each sweep's own report. */
  quiet?: boolean;
}

export const PLAN_NAMES = ['budget', 'wait', 'exit', 'nowait', 'vote'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];

export interface DemoSweepResult {
  budget: Summary;
  wait: Summary;
  /** Every sweep's summary, by plan name. */
  summaries: Record<PlanName, Summary>;
  /** All sweeps on one chart and one table (sweep/compare.ts), with the tokens-saved view against `budget`. */
  compare: Summary;
  /** summary.md of each sweep, and of the comparison. */
  reports: Record<PlanName | 'compare', string>;
  plots: Record<PlanName | 'compare', string>;
  wallMs: number;
}

interface Plan {
  name: PlanName;
  args: string[];
}

/** Thinking long enough for every problem's natural length (40..568 tokens): the natural run. */
const NATURAL = '4096';

export function plans(quick: boolean): Plan[] {
  return [
    { name: 'budget', args: ['--max-thinking', quick ? '32,128,512' : '32,64,128,256,512'] },
    { name: 'wait', args: ['--max-thinking', NATURAL, '--min-thinking', NATURAL, '--extensions', quick ? '0,4' : '0,1,2,4'] },
    { name: 'exit', args: ['--max-thinking', NATURAL, '--early-exit', quick ? 'off,32x2' : 'off,16x3,32x2,64x2'] },
    { name: 'nowait', args: ['--max-thinking', NATURAL, '--suppress-reflection', 'off,on'] },
    // Served self-consistency: one request per item with n samples (temperature 0.7, seeds 0..n-1).
    { name: 'vote', args: ['--max-thinking', NATURAL, '--aggregate', 'majority', '--samples', quick ? '1,4' : '1,2,4,8'] },
  ];
}

export async function runDemoSweep(o: DemoSweepOptions): Promise<DemoSweepResult> {
  const log = o.log ?? ((s: string) => void process.stdout.write(s));
  const t0 = performance.now();
  const sim = await startSimulator({ port: 0 });
  const config = loadConfigFromObject(
    {
      upstreams: [{ url: sim.url }],
      server: { log_level: 'silent', host: '127.0.0.1' },
      models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } },
    },
    {},
  );
  const app = await buildApp(config);
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('gateway: no TCP address');
    const endpoint = `http://127.0.0.1:${addr.port}`;
    log(`thinkgate demo:sweep: gateway ${endpoint} -> vLLM simulator ${sim.url}\n${LABEL}.\n\n`);
    const summaries: Partial<Record<Plan['name'], Summary>> = {};
    const reports: Partial<Record<Plan['name'], string>> = {};
    for (const plan of plans(o.quick)) {
      const dir = join(o.out, plan.name);
      // A demo starts fresh (the sweep would otherwise resume from an older run's items).
      await rm(dir, { recursive: true, force: true });
      let stderr = '';
      const io: SweepIo = {
        stdout: { write: (s: string) => log(s) },
        stderr: { write: (s: string) => (stderr += s), isTTY: false },
        env: {},
      };
      const argv = [
        '--endpoint', endpoint, '--model', 'sim-r1', '--data', o.data ?? shortPath(DATASET), '--grader', 'boxed',
        '--out', dir, '--concurrency', '8', '--quiet', '--title', `${LABEL}: ${plan.name} sweep`, ...plan.args,
      ];
      const code = await sweepMain(argv, io);
      if (code !== 0) throw new Error(`sweep ${plan.name} exited ${code}: ${stderr.trim()}`);
      summaries[plan.name] = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as Summary;
      reports[plan.name] = await readFile(join(dir, 'summary.md'), 'utf8');
      if (!o.quiet) log(`\n${reports[plan.name]}\nplot: ${join(dir, 'plot.svg')}\n\n`);
    }
    const all = summaries as Record<PlanName, Summary>;
    const compare = compareSummaries(PLAN_NAMES.map((name) => ({ name, summary: all[name] })), 'budget');
    const title = `${LABEL}: all methods`;
    const report = renderComparison(compare, {
      title: 'thinkgate demo:sweep: budget forcing, "Wait", early exit, NoWait and majority vote',
      baseline: 'budget',
      note: `${LABEL}. Its accuracy depends only on the thinking tokens in its context when it answers (src/sim/solver.ts), so these curves show the mechanics and the token accounting, not what any method does for a real model.`,
    });
    await writeFile(join(o.out, 'summary.md'), report);
    await writeFile(join(o.out, 'summary.json'), JSON.stringify({ simulated: true, note: LABEL, ...compare }, null, 2) + '\n');
    await writeFile(join(o.out, 'compare.svg'), renderSvg(compare, title));
    log(`\n${report}\nplot (all methods on one chart): ${join(o.out, 'compare.svg')}\n\n`);
    const wallMs = performance.now() - t0;
    log(`done in ${(wallMs / 1000).toFixed(1)} s. ${LABEL}.\n`);
    const plots = Object.fromEntries(PLAN_NAMES.map((n) => [n, join(o.out, n, 'plot.svg')])) as Record<PlanName, string>;
    return {
      budget: all.budget,
      wait: all.wait,
      summaries: all,
      compare,
      reports: { ...(reports as Record<PlanName, string>), compare: report },
      plots: { ...plots, compare: join(o.out, 'compare.svg') },
      wallMs,
    };
  } finally {
    await app.close();
    await sim.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { out: { type: 'string', default: 'out/demo-sweep' }, quick: { type: 'boolean', default: false } },
  });
  await runDemoSweep({ out: values.out!, quick: values.quick === true });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`demo:sweep: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

/** The dataset as the summary shows it: relative to the working directory when inside it (no home paths in reports). */
function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
