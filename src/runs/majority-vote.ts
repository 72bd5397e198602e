/**
 * Served self-consistency (issue 16, item 3; docs/api.md "Majority vote"): `n` budget-forced
 * samples, one answer. The s1 paper compares budget forcing with majority voting over n samples
 * (Muennighoff et al. 2025, section 3.2, Figure 4); clients used to collect n choices and vote
 * themselves. Here the gateway does it: every sample's answer is extracted with a grader of the
 * sweep tool (sweep/graders.ts: boxed, numeric, exact, choice), the most frequent canonical answer
 * wins (sweep/vote.ts: ties go to the answer seen first; samples without an answer do not vote),
 * and the first sample that gave it is returned as the only choice (index 0).
 *
 * Cost is reported honestly: the winner's `finish` carries the usage and budget_forcing summed
 * over ALL samples, plus `budget_forcing.vote`. In a stream the winner is sent once decided, so
 * the first byte waits for every sample (what a vote needs); metrics and quota meter every sample
 * as it runs (this sits after them in serve-runs.ts).
 *
 * Memory is bounded by the samples' text, not their token count: consecutive text events of a
 * sample are merged while it is held (logprobs are refused with `aggregate`).
 */
import type { EngineEvent, IndexedEvent, Usage, BudgetForcingSummary, EngineFinishReason, VoteSummary } from '../engine/types.js';
import { sumBudgetForcing, sumUsage } from '../openai/usage.js';
import { getGrader, type GraderName } from '../sweep/graders.js';
import { majority } from '../sweep/vote.js';

interface Held {
  events: EngineEvent[];
  content: string[];
  finish: Extract<EngineEvent, { type: 'finish' }> | undefined;
}

/** The samples' events -> the winner's, as choice 0, with a finish that sums all of them. */
export async function* majorityVote(events: AsyncIterable<IndexedEvent>, n: number, graderName: GraderName): AsyncGenerator<IndexedEvent, void> {
  const held: Held[] = Array.from({ length: n }, () => ({ events: [], content: [], finish: undefined }));
  for await (const { index, ev } of events) hold(held[index]!, ev);

  const grader = getGrader(graderName);
  const answers = held.map((h) => grader.extract(h.content.join(''), { id: '', question: '', answer: '' }));
  const { answer, votes } = majority(answers);
  const winner = Math.max(0, answer === null ? 0 : answers.indexOf(answer));
  const counts: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const a of answers) if (a !== null) counts[a] = (counts[a] ?? 0) + 1;
  const vote: VoteSummary = { grader: graderName, answers, counts: { ...counts }, agreement: n > 0 ? votes / n : 0, winner };

  for (const ev of held[winner]!.events) yield { index: 0, ev };
  const finishes = held.map((h) => h.finish).filter((f): f is NonNullable<typeof f> => f !== undefined);
  const own = held[winner]!.finish;
  const reason: EngineFinishReason = own?.reason ?? 'length';
  const usage: Usage = sumUsage(finishes.map((f) => f.usage));
  const budgetForcing: BudgetForcingSummary = { ...sumBudgetForcing(finishes.map((f) => f.budgetForcing)), vote };
  yield { index: 0, ev: { type: 'finish', reason, usage, budgetForcing, ...(own?.stopSequence === undefined ? {} : { stopSequence: own.stopSequence }) } };
}

function hold(h: Held, ev: EngineEvent): void {
  if (ev.type === 'finish') {
    h.finish = ev;
    return;
  }
  if (ev.type === 'content') h.content.push(ev.text);
  const last = h.events[h.events.length - 1];
  // Merge consecutive text of one kind: one event per run of text instead of one per token.
  if ((ev.type === 'reasoning' || ev.type === 'content') && last !== undefined && last.type === ev.type) {
    h.events[h.events.length - 1] = { type: ev.type, text: last.text + ev.text, tokens: last.tokens + ev.tokens };
    return;
  }
  h.events.push(ev);
}
