/** Runs `fn` over `jobs` with at most `limit` in flight (bounded concurrency, issue 7). */
export async function runPool<T>(jobs: readonly T[], limit: number, fn: (job: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      await fn(job);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, worker));
}
