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

/**
 * Sampling fields of sample `choice` of a prompt: with a `seed`, sample j gets `seed + j`, as
 * vLLM's own parallel sampling gives its n children (vllm/v1/engine/parallel_sampling.py,
 * ParentRequest._get_child_sampling_params), so `n: 2, seed: 7` yields two different samples,
 * reproducibly. Without a seed (or for sample 0) the request's object is shared, so it is
 * serialized once for every run (backends/http-backend.ts payloadText).
 */
export function runSampling(sampling: Record<string, unknown>, choice: number): Record<string, unknown> {
  const seed = sampling['seed'];
  return typeof seed === 'number' && choice > 0 ? { ...sampling, seed: seed + choice } : sampling;
}
