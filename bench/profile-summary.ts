/**
 * `tsx bench/profile-summary.ts <file.cpuprofile> [top]`: the self time of a V8 CPU profile
 * (node --cpu-prof, written by `npm run bench -- --cpu-prof` for the gateway process) by
 * function and by file, so a hot path can be named in a report without a GUI. Self time is
 * the sample count of each node times the mean sampling interval (the profile's timeDeltas).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileRow {
  name: string;
  selfMs: number;
  share: number;
}

export function summarizeProfile(p: CpuProfile, top = 25): { totalMs: number; byFunction: ProfileRow[]; byFile: ProfileRow[] } {
  const totalMs = (p.endTime - p.startTime) / 1000;
  const hits = new Map<number, number>();
  for (const id of p.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const perSample = p.samples.length ? totalMs / p.samples.length : 0;
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  const short = (url: string): string => url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, '$1/') || '(native)';
  for (const n of p.nodes) {
    const h = hits.get(n.id) ?? 0;
    if (!h) continue;
    const f = n.callFrame;
    const file = short(f.url);
    const key = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + h * perSample);
    const fileKey = file.startsWith('node_modules/') ? file.split('/').slice(0, file.startsWith('node_modules/@') ? 3 : 2).join('/') : file;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + h * perSample);
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m.entries()]
      .map(([name, selfMs]) => ({ name, selfMs, share: totalMs ? selfMs / totalMs : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top);
  return { totalMs, byFunction: rows(byFn), byFile: rows(byFile) };
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(topArg ?? 25));
  const print = (title: string, rows: ProfileRow[]): void => {
    process.stdout.write(`\n${title} (of ${s.totalMs.toFixed(0)} ms profiled)\n`);
    for (const r of rows) process.stdout.write(`${r.selfMs.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}\n`);
  };
  print('Self time by function', s.byFunction);
  print('Self time by file / package', s.byFile);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
