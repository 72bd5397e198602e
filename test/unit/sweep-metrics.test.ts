import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Completion } from '../../src/sweep/client.js';
import { buildBody, chatUrl, parseCompletion } from '../../src/sweep/client.js';
import { getGrader } from '../../src/sweep/graders.js';
import { buildGrid, emptyGridSpec, settingKey, type Setting } from '../../src/sweep/grid.js';
import { scaling, summarize } from '../../src/sweep/metrics.js';
import { niceTicks, renderSvg } from '../../src/sweep/plot.js';
import { formatDuration, progressLine } from '../../src/sweep/progress.js';
import { runSweep } from '../../src/sweep/runner.js';

describe('s1 metrics (section 3.2)', () => {
  it('Scaling is the mean pairwise slope, in points per 1k tokens', () => {
    // (0.2 -> 0.4 over 1000 tokens) = 20; (0.2 -> 0.5 over 2000) = 15; (0.4 -> 0.5 over 1000) = 10.
    expect(scaling([{ tokens: 1000, accuracy: 0.2 }, { tokens: 2000, accuracy: 0.4 }, { tokens: 3000, accuracy: 0.5 }])).toBeCloseTo(15);
    expect(scaling([{ tokens: 10, accuracy: 0.5 }, { tokens: 10, accuracy: 0.6 }])).toBeNull();
    expect(scaling([{ tokens: 2000, accuracy: 0.2 }, { tokens: 1000, accuracy: 0.4 }])).toBeCloseTo(-20);
  });
});

/** A fake endpoint: thinks min(max, 100) tokens; right iff it thought >= 50 tokens. */
function fakeComplete(calls: string[]) {
  return async (_o: unknown, item: { id: string }, s: Setting, seed: number): Promise<Completion> => {
    calls.push(`${settingKey(s)}#${item.id}#${seed}`);
    if (item.id === 'boom') throw new Error('HTTP 500: down');
    const t = Math.min(s.maxThinking ?? 100, 100);
    // Over-budget on purpose at max=100 so Control < 1 is observable.
    const thinking = s.maxThinking === 100 ? 101 : t;
    return { response: `The answer is ${t >= 50 ? 7 : 1}.`, thinkingTokens: thinking, probeTokens: 0, probes: 0, exited: false, samples: 1, extensions: 0, truncated: false };
  };
}

describe('runner + summary', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const items = [
    { id: 'a', question: 'q', answer: '7' },
    { id: 'b', question: 'q', answer: '7' },
  ];
  const endpoint = { endpoint: 'http://unused', model: 'm', timeoutMs: 1000 };

  it('grades, votes, writes JSONL, resumes, and computes Control/Scaling/Performance', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-'));
    const itemsPath = join(dir, 'items.jsonl');
    const grid = buildGrid({ ...emptyGridSpec(), maxThinking: [20, 60, 100], minThinking: [], extensions: [], effort: [] });
    const calls: string[] = [];
    const progress: number[] = [];
    const opts = { items, grid, grader: getGrader('numeric'), endpoint, samples: 3, concurrency: 2, itemsPath, completeFn: fakeComplete(calls) };
    const r1 = await runSweep({ ...opts, onProgress: (d) => progress.push(d) });
    expect(r1).toMatchObject({ ran: 6, resumed: 0, failed: 0 });
    expect(calls).toHaveLength(18);
    expect(progress.at(-1)).toBe(6);
    const lines = (await readFile(itemsPath, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatchObject({ id: expect.any(String), votes: 3, samples: expect.any(Array) });

    const r2 = await runSweep(opts);
    expect(r2).toMatchObject({ ran: 0, resumed: 6 });
    expect(calls).toHaveLength(18);

    const s = summarize(grid, r2.records, ['maxThinking']);
    expect(s.settings.map((x) => [x.accuracy, x.mean_thinking_tokens, x.control])).toEqual([
      [0, 20, 1],
      [1, 60, 1],
      [1, 101, 0],
    ]);
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]!.label).toBe('max sweep');
    expect(s.overall.performance).toBe(1);
    expect(s.overall.control).toBeCloseTo(2 / 3);
    // slopes: (100 pts / 40 tok), (100 / 81), (0 / 41) -> per 1k tokens
    expect(s.overall.scaling).toBeCloseTo(((100 / 40 + 100 / 81 + 0) / 3) * 1000);
    const svg = renderSvg(s, 'a <title>');
    expect(svg).toContain('<polyline');
    expect(svg).toContain('a &lt;title&gt;');
    expect(svg.match(/<circle /g)).toHaveLength(3);
  });

  it('records a failed request as an error line and retries it on re-run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-'));
    const itemsPath = join(dir, 'items.jsonl');
    const grid = buildGrid({ ...emptyGridSpec(), maxThinking: [60], minThinking: [], extensions: [], effort: [] });
    const calls: string[] = [];
    const opts = { items: [...items, { id: 'boom', question: 'q', answer: '1' }], grid, grader: getGrader('numeric'), endpoint, samples: 1, concurrency: 4, itemsPath, completeFn: fakeComplete(calls) };
    const r1 = await runSweep(opts);
    expect(r1.failed).toBe(1);
    expect(r1.records.find((x) => x.id === 'boom')).toMatchObject({ correct: false, error: 'HTTP 500: down' });
    const r2 = await runSweep(opts);
    expect(r2).toMatchObject({ ran: 1, resumed: 2, failed: 1 });
  });
});

describe('client', () => {
  it('builds the URL and the budget fields of the spec', () => {
    expect(chatUrl('http://h:1/')).toBe('http://h:1/v1/chat/completions');
    expect(chatUrl('http://h:1/v1')).toBe('http://h:1/v1/chat/completions');
    const body = buildBody({ endpoint: '', model: 'm', timeoutMs: 1, maxTokens: 99 }, { id: '1', question: 'Q?', answer: 'A', choices: ['x', 'y'] }, { maxThinking: 5, minThinking: 2, extensions: 1, effort: 'low' }, 3);
    expect(body).toMatchObject({ model: 'm', seed: 3, max_completion_tokens: 99, max_thinking_tokens: 5, min_thinking_tokens: 2, max_thinking_extensions: 1, reasoning_effort: 'low' });
    expect((body.messages as { content: string }[])[0]!.content).toBe('Q?\n\nA. x\nB. y');
  });
  it('reads thinking tokens from budget_forcing, else usage.reasoning_tokens', () => {
    const choices = [{ message: { content: 'hi' } }];
    expect(parseCompletion({ choices, budget_forcing: { thinking_tokens: 7, extensions: 2, truncated: true } })).toEqual({
      response: 'hi', thinkingTokens: 7, probeTokens: 0, probes: 0, exited: false, samples: 1, extensions: 2, truncated: true,
    });
    expect(parseCompletion({ choices, usage: { completion_tokens_details: { reasoning_tokens: 9 } } }).thinkingTokens).toBe(9);
    expect(parseCompletion({ choices }).thinkingTokens).toBeNull();
    expect(() => parseCompletion({})).toThrow(/no choices/);
  });
});

describe('plot and progress helpers', () => {
  it('makes round ticks', () => {
    expect(niceTicks(0, 97)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 4000)).toEqual([0, 1000, 2000, 3000, 4000]);
  });
  it('formats progress with an ETA', () => {
    expect(formatDuration(65_000)).toBe('1m05s');
    expect(progressLine(5, 10, 1, 10_000, 5, 10)).toBe('[#####.....] 5/10 50% 1 failed elapsed 10s eta 10s');
  });
});
