/**
 * `npm run demo:sweep -- --quick` in-process: the simulator's SIMULATED solver behind the
 * gateway, two sweeps over the project's word problems. More thinking must mean clearly higher
 * accuracy, and the summaries and plots must be written.
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
  it('draws a rising curve for max-thinking and for "Wait" extensions, and writes summary + plot', async () => {
    dir = await mkdtemp(join(tmpdir(), 'thinkgate-demo-sweep-'));
    let log = '';
    const r = await runDemoSweep({ out: dir, quick: true, log: (s) => void (log += s) });

    const acc = (s: typeof r.budget) => s.settings.map((x) => x.accuracy!);
    const [small, large] = acc(r.budget);
    expect(r.budget.settings.map((x) => x.setting)).toEqual(['max=32 min=- ext=- effort=-', 'max=512 min=- ext=- effort=-']);
    expect(large! - small!).toBeGreaterThan(0.3);
    expect(r.budget.settings.every((x) => x.control === 1 && x.errors === 0)).toBe(true);
    const [ext0, ext4] = acc(r.wait);
    expect(r.wait.settings[1]!.mean_extensions).toBe(4);
    expect(ext4! - ext0!).toBeGreaterThan(0.1);

    for (const name of ['budget', 'wait']) {
      for (const f of ['summary.md', 'summary.json', 'items.jsonl', 'plot.svg']) expect((await stat(join(dir, name, f))).size).toBeGreaterThan(0);
      expect((await readFile(join(dir, name, 'plot.svg'), 'utf8')).startsWith('<svg')).toBe(true);
      expect(await readFile(join(dir, name, 'summary.md'), 'utf8')).toContain('SIMULATED');
    }
    expect(log).toContain('SIMULATED');
    expect(log).toContain(`plot: ${join(dir, 'budget', 'plot.svg')}`);
    expect(log).toContain('| `max=512 min=- ext=- effort=-` |');
  }, 60_000);
});
