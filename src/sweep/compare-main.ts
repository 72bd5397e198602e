/**
 * `thinkgate sweep --compare DIR,DIR,... --out DIR`: several finished sweeps on one chart and one
 * table (compare.ts), e.g. out/aime24/{budget,wait,exit,nowait,vote} -> out/aime24/compare. Each
 * sweep is named by its folder's last part; --baseline names the plain budget-forcing sweep the
 * tokens saved are measured against (default: the first).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compareSummaries, renderComparison, type NamedSummary } from './compare.js';
import type { Summary } from './metrics.js';
import { renderSvg } from './plot.js';

export const COMPARE_USAGE = `usage: thinkgate sweep --compare DIR,DIR,... --out DIR [--baseline NAME] [--title TEXT]

  --compare DIRS   finished sweep folders (each with summary.json), named by their last part
  --baseline NAME  the plain budget-forcing sweep to measure tokens saved against (default: the first)
  --out DIR        writes summary.md, summary.json and compare.svg there
`;

interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export async function compareMain(argv: string[], io: Io): Promise<number> {
  let values: { compare?: string; out?: string; baseline?: string; title?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: { compare: { type: 'string' }, out: { type: 'string' }, baseline: { type: 'string' }, title: { type: 'string' } },
    }));
    if (!values.compare) throw new Error('--compare is required');
    if (!values.out) throw new Error('--out is required');
  } catch (e) {
    io.stderr.write(`thinkgate sweep: ${(e as Error).message}\n\n${COMPARE_USAGE}`);
    return 2;
  }
  const dirs = values.compare.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const names = dirs.map((d) => basename(resolve(d)));
  if (dirs.length < 2 || new Set(names).size !== names.length) {
    io.stderr.write(`thinkgate sweep: --compare needs two or more folders with different names, got ${names.join(', ') || 'none'}\n`);
    return 2;
  }
  const baseline = values.baseline ?? names[0]!;
  if (!names.includes(baseline)) {
    io.stderr.write(`thinkgate sweep: --baseline "${baseline}" is not one of ${names.join(', ')}\n`);
    return 2;
  }
  const parts: NamedSummary[] = [];
  for (let i = 0; i < dirs.length; i++) {
    const path = join(dirs[i]!, 'summary.json');
    try {
      const s = JSON.parse(await readFile(path, 'utf8')) as Partial<Summary>;
      if (!Array.isArray(s.settings) || !Array.isArray(s.lines)) throw new Error('not a sweep summary (no settings/lines)');
      parts.push({ name: names[i]!, summary: s as Summary });
    } catch (e) {
      io.stderr.write(`thinkgate sweep: cannot read ${path}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const merged = compareSummaries(parts, baseline);
  const title = values.title ?? `accuracy vs thinking tokens: ${names.join(', ')}`;
  await mkdir(values.out, { recursive: true });
  await writeFile(join(values.out, 'summary.md'), renderComparison(merged, { title, baseline }));
  await writeFile(join(values.out, 'summary.json'), JSON.stringify({ baseline, sweeps: names, ...merged }, null, 2) + '\n');
  await writeFile(join(values.out, 'compare.svg'), renderSvg(merged, title));
  io.stdout.write(`compared ${names.join(', ')} against ${baseline}: wrote ${join(values.out, 'summary.md')}, summary.json, compare.svg\n`);
  return 0;
}
