/**
 * The per-item JSONL (issue 7, Output): one line per (setting, item), appended as each finishes
 * so that an interrupted run can resume. On reading, the last line for a key wins and lines
 * with an `error` are not "finished" (a re-run retries them).
 */
import { appendFile, readFile } from 'node:fs/promises';
import type { Setting } from './grid.js';

export interface SampleRecord {
  response: string;
  thinking_tokens: number | null;
  /** Early-exit probe tokens (not in thinking_tokens nor in usage); absent in records of older runs. */
  probe_tokens?: number;
  /** True when early exit closed thinking. */
  exited?: boolean;
  /** Samples behind this answer: n of a served majority vote (thinking_tokens sums them), else 1. */
  n?: number;
  extensions: number;
  truncated: boolean;
  answer: string | null;
  correct: boolean;
  /**
   * thinking_tokens <= requested max; null when no max was requested, tokens are unknown, or the
   * gateway voted (its thinking_tokens is a sum over samples, no single span to compare).
   */
  within_budget: boolean | null;
}

export interface ItemRecord {
  setting: string;
  params: Setting;
  id: string;
  /** The majority-vote answer and whether it is correct. */
  answer: string | null;
  votes: number;
  correct: boolean;
  /** Response of the first sample that gave the voted answer (else the first sample). */
  response: string;
  /** Means over the samples (null when the endpoint reports no thinking tokens). */
  thinking_tokens: number | null;
  /**
   * What the answer cost in generated thinking: the sum over ALL samples (client-side and served)
   * of thinking plus probe tokens; null when the endpoint reports no thinking tokens. Absent in
   * records of older runs (read as thinking_tokens x samples).
   */
  compute_tokens?: number | null;
  extensions: number;
  samples: SampleRecord[];
  error?: string;
}

export function recordKey(setting: string, id: string): string {
  return `${setting}\u0000${id}`;
}

/** Existing records by key (last wins); a missing file is an empty run. Torn last lines are skipped. */
export async function readRecords(path: string): Promise<Map<string, ItemRecord>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  const out = new Map<string, ItemRecord>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as ItemRecord;
      if (typeof r.setting === 'string' && typeof r.id === 'string') out.set(recordKey(r.setting, r.id), r);
    } catch {
      // A line torn by a kill mid-write: that item simply runs again.
    }
  }
  return out;
}

export async function appendRecord(path: string, r: ItemRecord): Promise<void> {
  await appendFile(path, JSON.stringify(r) + '\n');
}
