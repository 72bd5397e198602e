/**
 * `tsx bench/render.ts <results dir>`: re-renders results.md and chart.svg from result.json
 * (after a change to the report or the chart; the measurements are not touched).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { headline, renderMarkdown, type BenchResult } from './report.js';
import { renderChart } from './svg-chart.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: tsx bench/render.ts <results dir>\n');
  process.exit(2);
}
const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as BenchResult;
result.headline = headline(result.levels);
writeFileSync(join(dir, 'results.md'), renderMarkdown(result));
writeFileSync(join(dir, 'chart.svg'), renderChart(result));
process.stdout.write(`re-rendered ${dir}/results.md and chart.svg\n`);
