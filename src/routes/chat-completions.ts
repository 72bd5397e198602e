/**
 * POST /v1/chat/completions: OpenAI's chat API with budget forcing (docs/api.md). The prompt is
 * the backend's own chat template over `messages`; reasoning and answer come back apart
 * (`reasoning_content`, `content`). Serving (streaming, errors) is serving/serve-runs.ts, shared
 * with /v1/completions, inside the request lifecycle of serving/lifecycle.ts (admission,
 * cancellation, metrics).
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { startChat } from '../runs/chat.js';
import { aggregateGrader, chatLogprobs, parseChatRequest } from '../openai/chat-request.js';
import { majorityVote } from '../runs/majority-vote.js';
import { ChatChunkRenderer } from '../openai/chat-chunks.js';
import { ChatCompletionBuilder } from '../openai/chat-response.js';
import { checkRunCount } from '../openai/run-count.js';
import { samplingFields } from '../openai/sampling.js';
import { checkSamplingBytes } from '../runs/upstream-allowance.js';
import { serveRuns } from '../serving/serve-runs.js';
import { continuousUsage, streamUsage } from '../openai/stream-usage.js';
import { planTools } from '../tools/tool-plan.js';

export function registerChatCompletions(app: FastifyInstance, ctx: AppContext): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const req = parseChatRequest(request.body);
    // Tool semantics are settled before admission: every invalid combination is a 400 (tools/tool-plan.ts).
    const tools = planTools(req, ctx.registry.policyFor(req.model).toolCallParser);
    const weight = checkRunCount(1, req.n ?? 1, ctx.config.limits.maxChoicesPerRequest);
    checkSamplingBytes(samplingFields(req, 'chat'), weight, ctx.config.limits.maxUpstreamBytesPerRequest);
    const meta = () => ({
      id: ctx.newId('chatcmpl'),
      created: Math.floor(ctx.now() / 1000),
      model: req.model,
      reasoningFields: ctx.config.reasoningFields,
      includeReasoning: req.include_reasoning !== false,
      logprobs: chatLogprobs(req) !== undefined,
      tools,
      newToolCallId: () => ctx.newId('chatcmpl-tool'),
    });
    const usage = streamUsage(req.stream_options);
    // aggregate: n samples run (and are metered) as usual; one voted answer is rendered.
    const grader = aggregateGrader(req);
    const rendered = grader === undefined ? (req.n ?? 1) : 1;
    return serveRuns(ctx, request, reply, {
      model: req.model,
      stream: req.stream === true,
      weight,
      n: req.n ?? 1,
      start: (signal, opts) => startChat(req, ctx, signal, request.id, opts, tools),
      collector: () => new ChatCompletionBuilder(meta()),
      renderer: (started) =>
        new ChatChunkRenderer({ ...meta(), includeUsage: usage.include, ...continuousUsage(usage, started), choices: rendered }),
      ...(grader === undefined ? {} : { reshape: (events) => majorityVote(events, req.n ?? 1, grader) }),
    });
  });
}
