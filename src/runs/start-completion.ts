/**
 * Starts a budget-forced /v1/completions request: its runs planned on a replica
 * (prepare-completion.ts), pulled to the first token with retries before it (start-runs.ts).
 */
import type { AppContext } from '../app-context.js';
import type { CompletionRequest } from '../openai/completion-request.js';
import { prepareCompletion } from './prepare-completion.js';
import { startRuns, type StartedRuns } from './start-runs.js';

export function startCompletion(req: CompletionRequest, ctx: AppContext, signal: AbortSignal, requestId: string): Promise<StartedRuns> {
  return startRuns(ctx, signal, (backend, s) => prepareCompletion(req, backend, ctx, s, requestId));
}
