/**
 * Runs every (setting, item) of the grid that the output file does not already hold as finished
 * (resumable), each with `samples` independent requests (seeds 0..N-1) and a majority vote,
 * at most `concurrency` items in flight.
 */
import { complete, type Completion, type EndpointOptions } from './client.js';
import type { SweepItem } from './dataset.js';
import { grade, type Grader } from './graders.js';
import { settingKey, type Setting } from './grid.js';
import { runPool } from './pool.js';
import { appendRecord, readRecords, recordKey, type ItemRecord, type SampleRecord } from './records.js';
import { majority } from './vote.js';

export interface RunOptions {
  items: SweepItem[];
  grid: Setting[];
  grader: Grader;
  endpoint: EndpointOptions;
  samples: number;
  concurrency: number;
  /** The per-item JSONL path. */
  itemsPath: string;
  /** Called after each finished item: done so far (including resumed ones), total. */
  onProgress?: (done: number, total: number, failed: number) => void;
  /** Injected for tests; defaults to the real HTTP call. */
  completeFn?: typeof complete;
}

export interface RunResult {
  /** Records of the whole grid (resumed and new), in grid x dataset order. */
  records: ItemRecord[];
  resumed: number;
  ran: number;
  failed: number;
}

export async function runSweep(o: RunOptions): Promise<RunResult> {
  const call = o.completeFn ?? complete;
  const existing = await readRecords(o.itemsPath);
  const jobs: { setting: Setting; key: string; item: SweepItem }[] = [];
  let resumed = 0;
  for (const setting of o.grid) {
    const key = settingKey(setting);
    for (const item of o.items) {
      const prev = existing.get(recordKey(key, item.id));
      if (prev && prev.error === undefined && prev.samples.length === o.samples) resumed++;
      else jobs.push({ setting, key, item });
    }
  }
  const total = o.grid.length * o.items.length;
  let done = resumed;
  let failed = 0;
  o.onProgress?.(done, total, failed);
  await runPool(jobs, o.concurrency, async ({ setting, key, item }) => {
    const rec = await runItem(call, o, setting, key, item);
    if (rec.error !== undefined) failed++;
    existing.set(recordKey(key, item.id), rec);
    await appendRecord(o.itemsPath, rec);
    done++;
    o.onProgress?.(done, total, failed);
  });
  const records: ItemRecord[] = [];
  for (const setting of o.grid) {
    const key = settingKey(setting);
    for (const item of o.items) {
      const r = existing.get(recordKey(key, item.id));
      if (r) records.push(r);
    }
  }
  return { records, resumed, ran: jobs.length, failed };
}

async function runItem(
  call: typeof complete,
  o: RunOptions,
  setting: Setting,
  key: string,
  item: SweepItem,
): Promise<ItemRecord> {
  const samples: SampleRecord[] = [];
  let error: string | undefined;
  for (let seed = 0; seed < o.samples; seed++) {
    let c: Completion;
    try {
      c = await call(o.endpoint, item, setting, seed);
    } catch (e) {
      error = (e as Error).message;
      break;
    }
    const g = grade(o.grader, c.response, item);
    samples.push({
      response: c.response,
      thinking_tokens: c.thinkingTokens,
      probe_tokens: c.probeTokens,
      exited: c.exited,
      n: c.samples,
      extensions: c.extensions,
      truncated: c.truncated,
      answer: g.answer,
      correct: g.correct,
      within_budget:
        setting.maxThinking === undefined || c.thinkingTokens === null || c.samples > 1 ? null : c.thinkingTokens <= setting.maxThinking,
    });
  }
  const vote = majority(samples.map((s) => s.answer));
  const chosen = samples.find((s) => s.answer === vote.answer) ?? samples[0];
  const tokens = samples.map((s) => s.thinking_tokens).filter((t): t is number => t !== null);
  const rec: ItemRecord = {
    setting: key,
    params: setting,
    id: item.id,
    answer: vote.answer,
    votes: vote.votes,
    correct: error === undefined && vote.answer !== null && o.grader.match(vote.answer, item),
    response: chosen?.response ?? '',
    thinking_tokens: tokens.length === 0 ? null : mean(tokens),
    compute_tokens: tokens.length === 0 ? null : samples.reduce((a, s) => a + (s.thinking_tokens ?? 0) + (s.probe_tokens ?? 0), 0),
    extensions: samples.length === 0 ? 0 : mean(samples.map((s) => s.extensions)),
    samples,
  };
  if (error !== undefined) rec.error = error;
  return rec;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
