/**
 * POST /v1/messages: Anthropic's Messages API with budget forcing (docs/api.md, "Anthropic
 * Messages"). The request becomes the chat request vLLM would build from it
 * (anthropic/messages-request.ts) and runs exactly as /v1/chat/completions does, in the same
 * lifecycle (admission, cancellation, metrics); only the rendering and the error envelope are
 * Anthropic's (errors.ts, `errorEnvelope: 'anthropic'` on the route).
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { parseMessagesRequest, toChatRequest } from '../anthropic/messages-request.js';
import { MessageBuilder } from '../anthropic/messages-response.js';
import { MessageStreamRenderer } from '../anthropic/messages-stream.js';
import { parseChatRequest } from '../openai/chat-request.js';
import { samplingFields } from '../openai/sampling.js';
import { startChat } from '../runs/chat.js';
import { checkSamplingBytes } from '../runs/upstream-allowance.js';
import { serveRuns } from '../serving/serve-runs.js';
import { planTools } from '../tools/tool-plan.js';

export function registerMessages(app: FastifyInstance, ctx: AppContext): void {
  app.post('/v1/messages', { config: { errorEnvelope: 'anthropic' } }, async (request, reply) => {
    // The translated request passes chat's own validation too: one set of rules for both routes.
    const req = parseChatRequest(toChatRequest(parseMessagesRequest(request.body)));
    // Chat's tool rules, before admission: an invalid combination is a 400 (tools/tool-plan.ts).
    const tools = planTools(req, ctx.registry.policyFor(req.model).toolCallParser);
    checkSamplingBytes(samplingFields(req, 'chat'), 1, ctx.config.limits.maxUpstreamBytesPerRequest);
    const meta = () => ({ id: ctx.newId('msg'), model: req.model, tools, newToolCallId: () => ctx.newId('chatcmpl-tool') });
    return serveRuns(ctx, request, reply, {
      model: req.model,
      stream: req.stream === true,
      weight: 1,
      n: 1,
      start: (signal, opts) => startChat(req, ctx, signal, request.id, opts, tools),
      collector: () => {
        const b = new MessageBuilder(meta());
        return { onEvent: (ev) => b.onEvent(ev), result: () => b.result() };
      },
      renderer: () => new MessageStreamRenderer(meta()),
    });
  });
}
