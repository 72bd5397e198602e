/**
 * Majority vote over samples (the s1 paper's parallel-scaling baseline, section 3.2 / Figure 4):
 * the most frequent canonical answer wins; ties go to the answer seen first; samples with no
 * answer do not vote.
 */
export function majority(answers: readonly (string | null)[]): { answer: string | null; votes: number } {
  const counts = new Map<string, number>();
  for (const a of answers) if (a !== null) counts.set(a, (counts.get(a) ?? 0) + 1);
  let best: string | null = null;
  let votes = 0;
  for (const [a, n] of counts) if (n > votes) [best, votes] = [a, n];
  return { answer: best, votes };
}
