/**
 * `npm run demo:sweep -- --quick` in-process: the simulator's SIMULATED solver behind the
 * gateway, five sweeps over the project's word problems (budget, "Wait", early exit, NoWait,
 * served majority vote) and their comparison on one chart. More thinking must mean clearly higher
 * accuracy; the issue-16 methods must show what holds by construction in the simulator; the
 * summaries and plots must be written.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemoSweep } from '../../src/demo-sweep.js';

let dir = '';
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('demo:sweep --quick', () => {
  it('draws rising budget and "Wait" curves, the early-exit, NoWait and vote curves, and one chart comparing them all', async () => {
    dir = await mkdtemp(join(tmpdir(), 'thinkgate-demo-sweep-'));
    let log = '';
    const r = await runDemoSweep({ out: dir, quick: true, log: (s) => void (log += s) });

    const acc = (s: typeof r.budget) => s.settings.map((x) => x.accuracy!);
    const [small, , large] = acc(r.budget);
    expect(r.budget.settings.map((x) => x.setting)).toEqual(['max=32 min=- ext=- effort=-', 'max=128 min=- ext=- effort=-', 'max=512 min=- ext=- effort=-']);
    expect(large! - small!).toBeGreaterThan(0.3);
    expect(r.budget.settings.every((x) => x.control === 1 && x.errors === 0)).toBe(true);
    const [ext0, ext4] = acc(r.wait);
    expect(r.wait.settings[1]!.mean_extensions).toBe(4);
    expect(ext4! - ext0!).toBeGreaterThan(0.1);

    for (const name of ['budget', 'wait', 'exit', 'nowait', 'vote']) {
      for (const f of ['summary.md', 'summary.json', 'items.jsonl', 'plot.svg']) expect((await stat(join(dir, name, f))).size).toBeGreaterThan(0);
      expect((await readFile(join(dir, name, 'plot.svg'), 'utf8')).startsWith('<svg')).toBe(true);
      expect(await readFile(join(dir, name, 'summary.md'), 'utf8')).toContain('SIMULATED');
    }
    expect(log).toContain('SIMULATED');
    expect(log).toContain(`plot: ${join(dir, 'budget', 'plot.svg')}`);
    expect(log).toContain('| `max=512 min=- ext=- effort=-` |');

    // ---- issue 16: the new curves, and what holds by construction in the simulator ----
    const one = (name: keyof typeof r.summaries, i: number) => r.summaries[name].settings[i]!;
    const natural = one('exit', 0);
    expect(natural.setting).toBe('max=4096 min=- ext=- effort=- exit=off');
    // Early exit: probes answer from the solver's current guess; agreeing probes close thinking
    // early, so the run thinks less than the natural one, even counting the probes' own tokens.
    const exit = one('exit', 1);
    expect(exit.setting).toBe('max=4096 min=- ext=- effort=- exit=32x2');
    expect(exit.mean_probe_tokens).toBeGreaterThan(0);
    expect(exit.mean_compute_tokens).toBeCloseTo(exit.mean_thinking_tokens! + exit.mean_probe_tokens, 6);
    expect(exit.mean_compute_tokens!).toBeLessThan(natural.mean_thinking_tokens! * 0.6);
    expect(exit.early_exit_rate!).toBeGreaterThan(0.5);
    expect(exit.accuracy).toBeLessThanOrEqual(natural.accuracy);
    // NoWait: a ban of the solver's reflection word skips its self-check (30% of the natural length).
    const [free, nowait] = [one('nowait', 0), one('nowait', 1)];
    expect(free.mean_thinking_tokens).toBe(natural.mean_thinking_tokens);
    expect(nowait.mean_thinking_tokens! / free.mean_thinking_tokens!).toBeGreaterThan(0.65);
    expect(nowait.mean_thinking_tokens! / free.mean_thinking_tokens!).toBeLessThan(0.75);
    expect(nowait.accuracy).toBeLessThan(free.accuracy);
    // Majority of 4 samples: costs 4 samples' tokens (the gateway sums them), and votes better.
    const [vote1, vote4] = [one('vote', 0), one('vote', 1)];
    expect(vote4.setting).toBe('max=4096 min=- ext=- effort=- vote=4');
    expect(vote4.mean_compute_tokens! / vote1.mean_compute_tokens!).toBeGreaterThan(3.5);
    expect(vote4.mean_compute_tokens! / vote1.mean_compute_tokens!).toBeLessThan(4.5);
    expect(vote4.accuracy).toBeGreaterThan(vote1.accuracy);

    // One chart, one table: every sweep's curve, and the tokens saved against the budget curve.
    expect(r.compare.lines.map((l) => l.label)).toEqual([
      'budget: max sweep', 'wait: ext sweep', 'exit: exit sweep', 'nowait: nowait sweep', 'vote: vote sweep',
    ]);
    const svg = await readFile(join(dir, 'compare.svg'), 'utf8');
    expect(svg.match(/<g class="series"/g)).toHaveLength(5);
    expect(svg).toContain('SIMULATED');
    expect(svg).toContain('incl. probes, all samples');
    const saved = new Map(r.compare.savings!.map((x) => [x.setting, x]));
    expect([...saved.keys()].sort()).toEqual([
      'exit: max=4096 min=- ext=- effort=- exit=32x2',
      'nowait: max=4096 min=- ext=- effort=- nowait=on',
      'vote: max=4096 min=- ext=- effort=- vote=4',
      'wait: max=4096 min=4096 ext=4 effort=-',
    ]);
    expect(saved.get('exit: max=4096 min=- ext=- effort=- exit=32x2')!.saved).not.toBeNull();
    expect(saved.get('vote: max=4096 min=- ext=- effort=- vote=4')!.note).toBe('above budget curve');
    const md = await readFile(join(dir, 'summary.md'), 'utf8');
    expect(md).toContain('SIMULATED');
    expect(md).toContain('## Tokens saved at each accuracy level');
    expect(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'))).toMatchObject({ simulated: true });
    expect(log).toContain(`plot (all methods on one chart): ${join(dir, 'compare.svg')}`);
  }, 60_000);
});
