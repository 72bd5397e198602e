/**
 * The one rule for per-run request ids. Every upstream call gets its own id, so an operator can
 * find each in vLLM's log: the gateway's request id, then the prompt (`-p<i>`, only in a batch of
 * several prompts), then the choice (`-c<j>`, only when n > 1); the engine appends the segment
 * (`-<n>`, engine/types.ts `requestId`).
 */
export function runRequestId(requestId: string, run: { choice: number; n: number; prompt?: number; prompts?: number }): string {
  const prompt = (run.prompts ?? 1) > 1 ? `-p${run.prompt ?? 0}` : '';
  const choice = run.n > 1 ? `-c${run.choice}` : '';
  return requestId + prompt + choice;
}
