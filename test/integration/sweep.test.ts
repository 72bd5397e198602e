/**
 * `thinkgate sweep` end to end: the CLI's main() against the gateway + simulator of
 * test/support/stack.ts. The simulator always answers "The answer is 42.", so the 5-item
 * fixture (3 items whose answer is 42) scores exactly 60% at every setting.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import type { ItemRecord } from '../../src/sweep/records.js';
import type { Summary } from '../../src/sweep/metrics.js';
import { startStack, type Stack } from '../support/stack.js';

const DATA = join(import.meta.dirname, '../fixtures/sweep/arith5.jsonl');

function captureIo() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s), isTTY: false },
      env: {},
    },
  };
}

describe('thinkgate sweep against the gateway', () => {
  let stack: Stack;
  let dir: string;
  beforeAll(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'thinkgate-sweep-'));
  });
  afterAll(async () => {
    await stack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const args = (out: string, ...extra: string[]) => [
    'sweep', '--endpoint', stack.url, '--model', 'sim-r1', '--data', DATA, '--grader', 'numeric', '--out', out, '--concurrency', '3', ...extra,
  ];

  it('runs the max-thinking grid, writes items/summary/plot, and resumes', async () => {
    const out = join(dir, 'max');
    const c = captureIo();
    expect(await main(args(out, '--max-thinking', '8,16,64', '--extensions', '0,1'), c.io)).toBe(0);
    expect(c.out.stdout).toContain('6 setting(s) x 5 item(s): 30 run, 0 resumed, 0 failed');
    expect(c.out.stderr).toContain('30/30 100%');

    const items = (await readFile(join(out, 'items.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ItemRecord);
    expect(items).toHaveLength(30);
    const a1 = items.find((r) => r.id === 'a1' && r.params.maxThinking === 8)!;
    expect(a1).toMatchObject({ correct: true, answer: '42', thinking_tokens: 8, extensions: 0 });
    expect(a1.response).toContain('42');
    expect(items.find((r) => r.id === 'a4')!.correct).toBe(false);

    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
    // The gateway truncates thinking at exactly M (docs/budget-forcing.md, rule 1); the sim closes on its own at 30.
    expect(summary.settings.map((s) => [s.setting, s.accuracy, s.mean_thinking_tokens, s.control])).toEqual([
      ['max=8 min=- ext=0 effort=-', 0.6, 8, 1],
      ['max=8 min=- ext=1 effort=-', 0.6, 8, 1],
      ['max=16 min=- ext=0 effort=-', 0.6, 16, 1],
      ['max=16 min=- ext=1 effort=-', 0.6, 16, 1],
      ['max=64 min=- ext=0 effort=-', 0.6, 30, 1],
      ['max=64 min=- ext=1 effort=-', 0.6, 30, 1],
    ]);
    expect(summary.overall).toEqual({ control: 1, scaling: 0, performance: 0.6 });
    expect(summary.lines.map((l) => l.label)).toEqual(['max sweep (ext=0)', 'max sweep (ext=1)', 'ext sweep (max=8)', 'ext sweep (max=16)', 'ext sweep (max=64)']);

    const md = await readFile(join(out, 'summary.md'), 'utf8');
    expect(md).toContain('| `max=16 min=- ext=0 effort=-` | 60.0% | 16.0 | 0.0 | 16.0 | - | 0.00 | 100.0% | 0 |');
    const svg = await readFile(join(out, 'plot.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<g class="series"/g)).toHaveLength(5);

    // Re-run: everything is finished, nothing is sent again.
    const before = stack.sim.stats().total;
    expect(before).toBeGreaterThanOrEqual(30);
    const c2 = captureIo();
    expect(await main(args(out, '--max-thinking', '8,16,64', '--extensions', '0,1', '--quiet'), c2.io)).toBe(0);
    expect(c2.out.stdout).toContain('30 resumed');
    // Only the note that --extensions without --min-thinking cannot extend (these runs show it: ext=1 = ext=0).
    expect(c2.out.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^thinkgate sweep: note: --extensions only acts while thinking is below min_thinking_tokens/)]);
    expect(stack.sim.stats().total).toBe(before);
  });

  it('sweeps extensions under a min budget ("Wait" forcing) with majority vote', async () => {
    const out = join(dir, 'ext');
    const c = captureIo();
    expect(await main(args(out, '--max-thinking', '64', '--min-thinking', '40', '--extensions', '0,1', '--samples', '2', '--quiet'), c.io)).toBe(0);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
    const [e0, e1] = summary.settings;
    expect(e0!.mean_extensions).toBe(0);
    expect(e1!.mean_extensions).toBe(1);
    expect(e1!.mean_thinking_tokens!).toBeGreaterThanOrEqual(40);
    expect(e1!.mean_thinking_tokens!).toBeGreaterThan(e0!.mean_thinking_tokens!);
    expect(summary.settings.every((s) => s.accuracy === 0.6 && s.control === 1)).toBe(true);
    const items = (await readFile(join(out, 'items.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ItemRecord);
    expect(items.every((r) => r.samples.length === 2)).toBe(true);
    expect(items.find((r) => r.id === 'a2')).toMatchObject({ votes: 2, correct: true });
  });

  it('reports a bad dataset line with its number and runs the rest', async () => {
    const data = join(dir, 'bad.jsonl');
    await writeFile(data, '{"question": "q", "answer": "42"}\n{"question": 5, "answer": "1"}\n{oops\n');
    const c = captureIo();
    const code = await main(['sweep', '--endpoint', stack.url, '--model', 'sim-r1', '--data', data, '--out', join(dir, 'bad'), '--quiet'], c.io);
    expect(code).toBe(0);
    expect(c.out.stderr).toContain(`${data}:2: skipped: "question" must be a non-empty string`);
    expect(c.out.stderr).toContain(`${data}:3: skipped: not valid JSON`);
    expect(c.out.stdout).toContain('1 setting(s) x 1 item(s): 1 run');
  });

  it('exits 1 when requests fail, and 2 on usage errors', async () => {
    const c = captureIo();
    expect(await main(args(join(dir, 'fail'), '--quiet').map((a) => (a === 'sim-r1' ? 'no-such-model' : a)), c.io)).toBe(1);
    expect(c.out.stdout).toContain('5 failed');
    const u = captureIo();
    expect(await main(['sweep', '--model', 'm'], u.io)).toBe(2);
    expect(u.out.stderr).toContain('--endpoint is required');
    expect(await main(['frobnicate'], u.io)).toBe(2);
  });
});
