/**
 * The sweep's issue-16 dimensions (early exit, reflection suppression, served majority vote):
 * parsing, request bodies, what a response's cost is read as, and the tokens-saved view against
 * plain budget forcing.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSweepArgs } from '../../src/sweep/args.js';
import { buildBody, parseCompletion } from '../../src/sweep/client.js';
import { sweepMain } from '../../src/sweep/main.js';
import { buildGrid, dimensionRank, earlyExitField, emptyGridSpec, isPlain, parseEarlyExitList, parseOnOffList, settingKey, sweptDimensions, type Setting } from '../../src/sweep/grid.js';
import { computeTokens, summarize, summarizeSetting, type Summary } from '../../src/sweep/metrics.js';
import type { ItemRecord } from '../../src/sweep/records.js';
import { renderMarkdown } from '../../src/sweep/report.js';
import { budgetCurve, tokensFor, tokensSaved } from '../../src/sweep/savings.js';

describe('grid: issue-16 dimensions', () => {
  it('parses early-exit specs to canonical forms and request fields', () => {
    expect(parseEarlyExitList('off, ON,64x2,128')).toEqual(['off', 'on', '64x2', '128']);
    expect(earlyExitField('off')).toBeUndefined();
    expect(earlyExitField('on')).toBe(true);
    expect(earlyExitField('64x2')).toEqual({ probe_interval_tokens: 64, agreements: 2 });
    expect(earlyExitField('128')).toEqual({ probe_interval_tokens: 128 });
  });
  it('rejects hostile early-exit specs', () => {
    for (const bad of ['', ',', '0', '0x2', '64x0', '64x17', '64x', 'x2', '-5', '1.5', '64x2x3', 'yes', '99999999', '64,64']) {
      expect(() => parseEarlyExitList(bad), bad).toThrow(/--early-exit/);
    }
  });
  it('parses on/off lists strictly', () => {
    expect(parseOnOffList('s', 'off,on')).toEqual([false, true]);
    expect(parseOnOffList('s', 'true')).toEqual([true]);
    expect(() => parseOnOffList('s', 'on,on')).toThrow(/duplicate/);
    expect(() => parseOnOffList('s', 'maybe')).toThrow(/not on or off/);
    expect(() => parseOnOffList('s', '')).toThrow(/expected/);
  });
  it('multiplies the new dimensions in; keys name them only when set (older keys stay valid)', () => {
    const grid = buildGrid({ ...emptyGridSpec(), maxThinking: [64], earlyExit: ['off', '32x2'], suppressReflection: [true], samples: [1, 4] });
    expect(grid.map(settingKey)).toEqual([
      'max=64 min=- ext=- effort=- exit=off nowait=on vote=1',
      'max=64 min=- ext=- effort=- exit=off nowait=on vote=4',
      'max=64 min=- ext=- effort=- exit=32x2 nowait=on vote=1',
      'max=64 min=- ext=- effort=- exit=32x2 nowait=on vote=4',
    ]);
    expect(settingKey({ maxThinking: 64 })).toBe('max=64 min=- ext=- effort=-');
    expect(sweptDimensions({ ...emptyGridSpec(), earlyExit: ['off', 'on'], samples: [4] })).toEqual(['earlyExit']);
    expect(isPlain({ maxThinking: 5, earlyExit: 'off', suppressReflection: false, samples: 1 })).toBe(true);
    expect(isPlain({ earlyExit: '64' })).toBe(false);
    expect(isPlain({ suppressReflection: true })).toBe(false);
    expect(isPlain({ samples: 2 })).toBe(false);
    const ranks = ['on', '64x2', 'off', '256'].map((e) => dimensionRank({ earlyExit: e }, 'earlyExit'));
    expect([...ranks].sort((a, b) => a - b)).toEqual([ranks[2], ranks[1], ranks[3], ranks[0]]);
  });
});

describe('args: --early-exit, --suppress-reflection, --aggregate', () => {
  const base = ['--endpoint', 'http://x', '--model', 'm', '--data', 'd.jsonl', '--out', 'o'];
  it('takes lists of each; --aggregate makes --samples a dimension voted by the gateway', () => {
    const a = parseSweepArgs([...base, '--early-exit', 'off,64x2', '--suppress-reflection', 'off,on', '--aggregate', 'majority', '--samples', '1,4', '--grader', 'math'], {});
    expect(a.grid.earlyExit).toEqual(['off', '64x2']);
    expect(a.grid.suppressReflection).toEqual([false, true]);
    expect(a.grid.samples).toEqual([1, 4]);
    expect(a.samples).toBe(1);
    expect(a.aggregate).toEqual({ method: 'majority', grader: 'boxed' });
    expect(a.temperature).toBe(0.7);
    const b = parseSweepArgs([...base, '--early-exit', 'on'], {});
    expect(b.grid.samples).toEqual([]);
    expect(b.aggregate).toBeUndefined();
    expect(b.temperature).toBeUndefined();
  });
  it('refuses what it cannot honour', () => {
    expect(() => parseSweepArgs([...base, '--aggregate', 'mean'], {})).toThrow(/--aggregate/);
    expect(() => parseSweepArgs([...base, '--samples', '1,4'], {})).toThrow(/--samples/);
    expect(() => parseSweepArgs([...base, '--aggregate', 'majority', '--samples', '0,4'], {})).toThrow(/--samples/);
    expect(() => parseSweepArgs([...base, '--aggregate', 'majority', '--samples', '4,4'], {})).toThrow(/duplicate/);
    expect(() => parseSweepArgs([...base, '--aggregate', 'majority', '--samples', '999'], {})).toThrow(/1\.\.128/);
    expect(() => parseSweepArgs([...base, '--suppress-reflection', 'sometimes'], {})).toThrow(/--suppress-reflection/);
    expect(() => parseSweepArgs([...base, '--early-exit', '64y2'], {})).toThrow(/--early-exit/);
  });
});

describe('client: request fields and the cost of a response', () => {
  const item = { id: '1', question: 'Q?', answer: '7' };
  const opts = { endpoint: '', model: 'm', timeoutMs: 1, aggregateGrader: 'numeric' as const };
  it('sends thinking_early_exit, suppress_reflection, n + aggregate; leaves them out when off', () => {
    expect(buildBody(opts, item, { earlyExit: '64x2', suppressReflection: true, samples: 4 }, 0)).toMatchObject({
      thinking_early_exit: { probe_interval_tokens: 64, agreements: 2 },
      suppress_reflection: true,
      n: 4,
      aggregate: { method: 'majority', grader: 'numeric' },
    });
    const off = buildBody(opts, item, { earlyExit: 'off', suppressReflection: false, samples: 1 }, 0);
    for (const k of ['thinking_early_exit', 'suppress_reflection', 'n', 'aggregate']) expect(off).not.toHaveProperty(k);
    expect(buildBody(opts, item, { earlyExit: 'on' }, 0).thinking_early_exit).toBe(true);
  });
  it('reads probe tokens, an exit, and the samples of a vote', () => {
    const choices = [{ message: { content: 'x' } }];
    const c = parseCompletion({
      choices,
      budget_forcing: { thinking_tokens: 400, extensions: 0, truncated: false, early_exit: { probes: 3, probe_tokens: 12, exited_at: 96 }, vote: { answers: ['1', '1', null, '2'] } },
    });
    expect(c).toMatchObject({ thinkingTokens: 400, probeTokens: 12, probes: 3, exited: true, samples: 4 });
    const noExit = parseCompletion({ choices, budget_forcing: { thinking_tokens: 5, early_exit: { probes: 1, probe_tokens: 'x', exited_at: null } } });
    expect(noExit).toMatchObject({ probeTokens: 0, probes: 1, exited: false, samples: 1 });
  });
});

function rec(setting: string, correct: boolean, thinking: number, probe = 0, n = 1, extra: Partial<ItemRecord> = {}): ItemRecord {
  return {
    setting, params: {}, id: `${setting}-${Math.random()}`, answer: '1', votes: 1, correct, response: '',
    thinking_tokens: thinking, compute_tokens: thinking + probe, extensions: 0,
    samples: [{ response: '', thinking_tokens: thinking, probe_tokens: probe, exited: probe > 0, n, extensions: 0, truncated: false, answer: '1', correct, within_budget: null }],
    ...extra,
  };
}

describe('metrics: compute tokens charge probes and every sample', () => {
  it('adds probe tokens; older records count thinking x samples', () => {
    expect(computeTokens(rec('a', true, 100, 12))).toBe(112);
    const old = rec('a', true, 50);
    delete old.compute_tokens;
    old.samples = [old.samples[0]!, old.samples[0]!, old.samples[0]!];
    expect(computeTokens(old)).toBe(150);
    const s = summarizeSetting({ earlyExit: '64' }, [rec('a', true, 100, 12), rec('a', false, 60, 0)]);
    expect(s).toMatchObject({ accuracy: 0.5, mean_thinking_tokens: 80, mean_compute_tokens: 86, mean_probe_tokens: 6, early_exit_rate: 1 });
    expect(summarizeSetting({}, [rec('a', true, 100)]).early_exit_rate).toBeNull();
  });
});

describe('savings: tokens saved at each accuracy level', () => {
  it('makes the budget curve monotone and interpolates on it', () => {
    const curve = budgetCurve([{ tokens: 400, accuracy: 0.6 }, { tokens: 100, accuracy: 0.2 }, { tokens: 200, accuracy: 0.6 }, { tokens: 300, accuracy: 0.5 }]);
    expect(curve).toEqual([{ tokens: 100, accuracy: 0.2 }, { tokens: 200, accuracy: 0.6 }]);
    expect(tokensFor(curve, 0.4)).toBeCloseTo(150);
    expect(tokensFor(curve, 0.6)).toBe(200);
    expect(tokensFor(curve, 0.2)).toBe(100);
    expect(tokensFor(curve, 0.1)).toBe('below');
    expect(tokensFor(curve, 0.7)).toBe('above');
    expect(tokensFor([], 0.5)).toBe('above');
  });
  it('rows: saved = budget tokens - method tokens; out of range says why', () => {
    const row = (setting: string, accuracy: number, tokens: number) =>
      ({ setting, params: {}, items: 10, errors: 0, accuracy, mean_thinking_tokens: tokens, mean_compute_tokens: tokens, mean_probe_tokens: 0, early_exit_rate: null, mean_extensions: 0, control: null });
    const budget = [row('b1', 0.2, 100), row('b2', 0.6, 300)];
    const rows = tokensSaved(budget, [row('exit', 0.4, 120), row('vote', 0.8, 900), row('tiny', 0.1, 10), row('nowait', 0.6, 350)]);
    expect(rows.map((r) => r.setting)).toEqual(['tiny', 'exit', 'nowait', 'vote']);
    expect(rows[1]!.budget_tokens).toBeCloseTo(200);
    expect(rows[1]!.saved).toBeCloseTo(80);
    expect(rows[1]!.saved_share).toBeCloseTo(0.4);
    expect(rows[2]).toMatchObject({ budget_tokens: 300, saved: -50 });
    expect(rows[0]).toMatchObject({ budget_tokens: null, saved: null, note: 'below budget curve' });
    expect(rows[3]).toMatchObject({ note: 'above budget curve' });
  });
  it('summarize adds the view when a grid has plain settings and method settings; the report shows it', () => {
    const grid = buildGrid({ ...emptyGridSpec(), maxThinking: [100, 300], earlyExit: ['off', '50x2'] });
    const k = grid.map(settingKey);
    const records = [
      rec(k[0]!, false, 100), rec(k[0]!, true, 100),
      rec(k[1]!, false, 90, 8), rec(k[1]!, true, 90, 8),
      rec(k[2]!, true, 300), rec(k[2]!, true, 300),
      rec(k[3]!, true, 150, 16), rec(k[3]!, true, 150, 16),
    ];
    const s = summarize(grid, records, sweptDimensions({ ...emptyGridSpec(), maxThinking: [100, 300], earlyExit: ['off', '50x2'] }));
    expect(s.savings!.map((r) => r.setting)).toEqual([k[1], k[3]]);
    expect(s.savings![1]).toMatchObject({ tokens: 166, budget_tokens: 300, saved: 134 });
    expect(s.lines.map((l) => l.label)).toEqual(['max sweep (exit=off)', 'max sweep (exit=50x2)', 'exit sweep (max=100)', 'exit sweep (max=300)']);
    const md = renderMarkdown(s, { model: 'm', endpoint: 'e', dataset: 'd', grader: 'g', samples: 1, items: 2 });
    expect(md).toContain('## Tokens saved at each accuracy level');
    expect(md).toContain('| `max=300 min=- ext=- effort=- exit=50x2` | 100.0% | 166.0 | 300.0 | 134.0 | 44.7% |');
    expect(md).toContain('| `max=100 min=- ext=- effort=- exit=50x2` | 50.0% | 98.0 | 100.0 | 2.0 | 2.0% |');
    const plainOnly = summarize(grid.slice(0, 1), records.slice(0, 2), []);
    expect(plainOnly.savings).toBeUndefined();
  });
});

describe('sweep --compare: finished sweeps on one chart', () => {
  const row = (setting: string, params: Setting, accuracy: number, tokens: number) =>
    ({ setting, params, items: 4, errors: 0, accuracy, mean_thinking_tokens: tokens, mean_compute_tokens: tokens, mean_probe_tokens: 0, early_exit_rate: null, mean_extensions: 0, control: null });
  const summary = (rows: ReturnType<typeof row>[], label: string): Summary => ({
    settings: rows,
    lines: [{ label, dimension: null, settings: rows.map((r) => r.setting), control: null, scaling: null, performance: Math.max(...rows.map((r) => r.accuracy)) }],
    overall: { control: null, scaling: null, performance: Math.max(...rows.map((r) => r.accuracy)) },
  });
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('merges them, measures the others against the baseline, and refuses bad input', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-compare-'));
    const budget = summary([row('max=100', { maxThinking: 100 }, 0.25, 100), row('max=300', { maxThinking: 300 }, 0.75, 300)], 'max sweep');
    const exit = summary([row('exit=off', { earlyExit: 'off' }, 0.75, 320), row('exit=64x2', { earlyExit: '64x2' }, 0.5, 150)], 'exit sweep');
    for (const [name, s] of [['budget', budget], ['exit', exit]] as const) {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'summary.json'), JSON.stringify(s));
    }
    let out = '';
    let err = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
    const code = await sweepMain(['--compare', `${join(dir, 'budget')},${join(dir, 'exit')}`, '--out', join(dir, 'cmp')], io);
    expect([code, err]).toEqual([0, '']);
    expect(out).toContain('compared budget, exit against budget');
    const merged = JSON.parse(await readFile(join(dir, 'cmp', 'summary.json'), 'utf8')) as Summary;
    expect(merged.lines.map((l) => l.label)).toEqual(['budget: max sweep', 'exit: exit sweep']);
    // exit=off is plain budget forcing again: not a method row.
    expect(merged.savings!.map((r) => [r.setting, r.budget_tokens, r.saved])).toEqual([['exit: exit=64x2', 200, 50]]);
    expect(await readFile(join(dir, 'cmp', 'summary.md'), 'utf8')).toContain('| `exit: exit=64x2` | 50.0% | 150.0 | 200.0 | 50.0 | 25.0% |');
    expect((await readFile(join(dir, 'cmp', 'compare.svg'), 'utf8')).match(/<g class="series"/g)).toHaveLength(2);

    const bad = async (...argv: string[]) => {
      err = '';
      return [await sweepMain(argv, io), err] as const;
    };
    expect(await bad('--compare', join(dir, 'budget'), '--out', join(dir, 'x'))).toEqual([2, expect.stringMatching(/two or more folders/)]);
    expect(await bad('--compare', `${join(dir, 'budget')},${join(dir, 'budget')}`, '--out', join(dir, 'x'))).toEqual([2, expect.stringMatching(/different names/)]);
    expect(await bad('--compare', `${join(dir, 'budget')},${join(dir, 'nope')}`, '--out', join(dir, 'x'))).toEqual([2, expect.stringMatching(/cannot read .*nope/)]);
    expect(await bad('--compare', `${join(dir, 'budget')},${join(dir, 'exit')}`, '--out', join(dir, 'x'), '--baseline', 'wait')).toEqual([2, expect.stringMatching(/--baseline "wait"/)]);
    expect(await bad('--compare', `${join(dir, 'budget')},${join(dir, 'exit')}`)).toEqual([2, expect.stringMatching(/--out is required/)]);
    await writeFile(join(dir, 'exit', 'summary.json'), '{"settings": 5}');
    expect(await bad('--compare', `${join(dir, 'budget')},${join(dir, 'exit')}`, '--out', join(dir, 'x'))).toEqual([2, expect.stringMatching(/not a sweep summary/)]);
  });
});
