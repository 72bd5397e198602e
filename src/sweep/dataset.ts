/**
 * Sweep dataset reader: JSONL, one item per line, `{ question, answer, id?, choices? }`
 * (issue 7, "thinkgate sweep": Input). A bad line is reported with its 1-based line number and
 * what is wrong, and the rest of the file still loads, so one typo does not lose a long run.
 */
import { readFile } from 'node:fs/promises';

export interface SweepItem {
  /** Stable key for resume; the line number when the file gives none. */
  id: string;
  question: string;
  /** Gold answer as text (numbers are stringified). */
  answer: string;
  /** Multiple-choice options, labelled A, B, C... in order. */
  choices?: string[];
}

export interface DatasetError {
  line: number;
  message: string;
}

export interface Dataset {
  items: SweepItem[];
  errors: DatasetError[];
}

export function parseDataset(text: string): Dataset {
  const items: SweepItem[] = [];
  const errors: DatasetError[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const res = parseLine(raw, line);
    if (typeof res === 'string') {
      errors.push({ line, message: res });
      return;
    }
    if (seen.has(res.id)) {
      errors.push({ line, message: `duplicate id ${JSON.stringify(res.id)}` });
      return;
    }
    seen.add(res.id);
    items.push(res);
  });
  return { items, errors };
}

export async function readDataset(path: string): Promise<Dataset> {
  return parseDataset(await readFile(path, 'utf8'));
}

/** An item, or what is wrong with the line. */
function parseLine(raw: string, line: number): SweepItem | string {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'expected a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o.question !== 'string' || o.question.trim() === '') return '"question" must be a non-empty string';
  if (typeof o.answer === 'number' && Number.isFinite(o.answer)) o.answer = String(o.answer);
  if (typeof o.answer !== 'string' || o.answer.trim() === '') return '"answer" must be a non-empty string or a number';
  let id = String(line);
  if (o.id !== undefined) {
    if (typeof o.id !== 'string' && typeof o.id !== 'number') return '"id" must be a string or a number';
    id = String(o.id);
  }
  const item: SweepItem = { id, question: o.question, answer: o.answer };
  if (o.choices !== undefined) {
    if (!Array.isArray(o.choices) || o.choices.length < 2 || o.choices.length > 26 || !o.choices.every((c) => typeof c === 'string')) {
      return '"choices" must be an array of 2 to 26 strings';
    }
    item.choices = o.choices as string[];
  }
  return item;
}
