/**
 * `thinkgate sweep`: dataset -> grid of budget settings -> any OpenAI-compatible endpoint ->
 * per-item JSONL, summary.json, summary.md and plot.svg in --out (issue 7, "thinkgate sweep").
 * Returns the exit code instead of exiting, so tests call it in-process.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSweepArgs, SWEEP_USAGE, type SweepArgs } from './args.js';
import { readDataset } from './dataset.js';
import { getGrader } from './graders.js';
import { compareMain } from './compare-main.js';
import { buildGrid, sweptDimensions } from './grid.js';
import { summarize, type Summary } from './metrics.js';
import { renderSvg } from './plot.js';
import { createProgress } from './progress.js';
import { renderMarkdown } from './report.js';
import { runSweep } from './runner.js';

export interface SweepIo {
  stdout: { write(s: string): unknown };
  stderr: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/** The instruction each grader expects the model to follow (overridable with --prompt-suffix). */
const DEFAULT_SUFFIX: Record<string, string> = {
  boxed: 'Put your final answer within \\boxed{}.',
  math: 'Put your final answer within \\boxed{}.',
  choice: 'Answer with the letter of the correct option.',
  mc: 'Answer with the letter of the correct option.',
  numeric: 'Give the final answer as a number.',
  exact: 'State the final answer after "The answer is".',
};

export async function sweepMain(argv: string[], io: SweepIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(SWEEP_USAGE);
    return 0;
  }
  if (argv.some((a) => a === '--compare' || a.startsWith('--compare='))) return compareMain(argv, io);
  let args: SweepArgs;
  try {
    args = parseSweepArgs(argv, io.env ?? process.env);
  } catch (e) {
    io.stderr.write(`thinkgate sweep: ${(e as Error).message}\n\n${SWEEP_USAGE}`);
    return 2;
  }
  const ds = await readDataset(args.data).catch((e: Error) => e);
  if (ds instanceof Error) {
    io.stderr.write(`thinkgate sweep: cannot read --data: ${ds.message}\n`);
    return 2;
  }
  for (const err of ds.errors) io.stderr.write(`${args.data}:${err.line}: skipped: ${err.message}\n`);
  if (ds.items.length === 0) {
    io.stderr.write(`thinkgate sweep: ${args.data} has no usable items\n`);
    return 2;
  }
  const grader = getGrader(args.grader);
  const grid = buildGrid(args.grid);
  if (grid.length === 0) {
    io.stderr.write('thinkgate sweep: every setting has --min-thinking above --max-thinking; nothing to run\n');
    return 2;
  }
  if (args.grid.extensions.some((e) => e > 0) && args.grid.minThinking.length === 0) {
    // thinkgate extends only a close below min_thinking_tokens (docs/budget-forcing.md, rule 2): without a minimum
    // the "Wait" sweep measures nothing. The s1 paper's Wait sweep suppresses every close.
    io.stderr.write(
      'thinkgate sweep: note: --extensions only acts while thinking is below min_thinking_tokens; for the s1 "Wait" sweep ' +
        'add --min-thinking at or above the model\'s natural thinking length (e.g. equal to --max-thinking)\n',
    );
  }
  await mkdir(args.out, { recursive: true });
  const progress = createProgress(args.quiet ? null : (io.stderr as NodeJS.WriteStream));
  const result = await runSweep({
    items: ds.items,
    grid,
    grader,
    endpoint: {
      endpoint: args.endpoint,
      model: args.model,
      apiKey: args.apiKey,
      temperature: args.temperature,
      maxTokens: args.maxTokens,
      timeoutMs: args.timeoutMs,
      promptSuffix: args.promptSuffix ?? DEFAULT_SUFFIX[args.grader],
      ...(args.aggregate ? { aggregateGrader: args.aggregate.grader } : {}),
    },
    samples: args.samples,
    concurrency: args.concurrency,
    itemsPath: join(args.out, 'items.jsonl'),
    onProgress: (d, t, f) => progress.update(d, t, f),
  });
  progress.finish();
  const summary = summarize(grid, result.records, sweptDimensions(args.grid));
  await writeOutputs(args, summary, ds.items.length, ds.errors.length);
  io.stdout.write(
    `${grid.length} setting(s) x ${ds.items.length} item(s): ${result.ran} run, ${result.resumed} resumed, ${result.failed} failed\n` +
      `wrote ${join(args.out, 'summary.md')}, summary.json, items.jsonl, plot.svg\n`,
  );
  return result.failed > 0 ? 1 : 0;
}

async function writeOutputs(args: SweepArgs, summary: Summary, items: number, badLines: number): Promise<void> {
  const meta = {
    model: args.model,
    endpoint: args.endpoint,
    dataset: args.data,
    grader: args.grader,
    samples: args.samples,
    items,
    ...(args.title ? { note: args.title } : {}),
    ...(args.aggregate ? { aggregate: `${args.aggregate.method} (${args.aggregate.grader})` } : {}),
  };
  await writeFile(join(args.out, 'summary.json'), JSON.stringify({ ...meta, skipped_dataset_lines: badLines, ...summary }, null, 2) + '\n');
  await writeFile(join(args.out, 'summary.md'), renderMarkdown(summary, meta));
  const title = args.title ?? `${args.model}: accuracy vs thinking tokens`;
  await writeFile(join(args.out, 'plot.svg'), renderSvg(summary, title));
}
