/**
 * Starts a chat request: its prompt rendered by the replica's chat template (prepare-chat.ts),
 * then one budget-forced run per choice (`n`), pulled to the first token with retries on other
 * replicas before it (start-runs.ts).
 */
import type { AppContext } from '../app-context.js';
import type { ChatRequest } from '../openai/chat-request.js';
import { prepareChat } from './prepare-chat.js';
import { runRequestId } from './run-id.js';
import { startRuns, type StartedRuns } from './start-runs.js';

export type StartedChat = StartedRuns;

export function startChat(req: ChatRequest, ctx: AppContext, signal: AbortSignal, requestId: string): Promise<StartedChat> {
  const affinity = ctx.config.routing.affinity === 'prefix' ? conversationKey(req) : undefined;
  const plan = async (backend: Parameters<typeof prepareChat>[1], s: AbortSignal) => {
    const input = await prepareChat(req, backend, ctx, s);
    const n = req.n ?? 1;
    return Array.from({ length: n }, (_, i) => ({ ...input, requestId: runRequestId(requestId, { choice: i, n }) }));
  };
  return startRuns(ctx, signal, plan, affinity);
}

/**
 * What identifies a conversation across turns: its model and its first two messages (system
 * prompt and first user turn), capped, so turn N+1 finds the replica that cached turn N.
 */
function conversationKey(req: ChatRequest): string {
  return `${req.model}\u0000${JSON.stringify(req.messages.slice(0, 2)).slice(0, 2048)}`;
}
