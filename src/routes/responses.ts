/**
 * POST /v1/responses: OpenAI's Responses API with budget forcing, stateless (docs/api.md, "POST
 * /v1/responses"). The request becomes the chat request vLLM 0.32 would build from it
 * (responses/responses-request.ts) and runs exactly as /v1/chat/completions does, in the same
 * lifecycle (admission, cancellation, drain, metrics); only the rendering is the Responses API's.
 * Errors use the OpenAI envelope, as on chat; a chat-side 400 names the Responses field.
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { InvalidRequestError } from '../errors.js';
import { parseChatRequest } from '../openai/chat-request.js';
import { samplingFields } from '../openai/sampling.js';
import { parseResponsesRequest, responsesParam, toChatRequest } from '../responses/responses-request.js';
import { ResponseBuilder } from '../responses/responses-response.js';
import { echoOf, type ResponseMeta } from '../responses/responses-shape.js';
import { ResponseStreamRenderer } from '../responses/responses-stream.js';
import { startChat } from '../runs/chat.js';
import { checkSamplingBytes } from '../runs/upstream-allowance.js';
import { serveRuns } from '../serving/serve-runs.js';
import { planTools } from '../tools/tool-plan.js';

export function registerResponses(app: FastifyInstance, ctx: AppContext): void {
  app.post('/v1/responses', async (request, reply) => {
    const res = parseResponsesRequest(request.body);
    const { req, tools } = renamed(() => {
      // The translated request passes chat's own validation too: one set of rules for both routes.
      const chat = parseChatRequest(toChatRequest(res));
      return { req: chat, tools: planTools(chat, ctx.registry.policyFor(chat.model).toolCallParser) };
    });
    checkSamplingBytes(samplingFields(req, 'chat'), 1, ctx.config.limits.maxUpstreamBytesPerRequest);
    // One id per response: the stream's events and the final object name the same one.
    // OpenAI's and vLLM's ids: `resp_`, `rs_`, `msg_`, `fc_` and a hex tail.
    const newId = (kind: string): string => ctx.newId(kind).replace(`${kind}-`, `${kind}_`);
    const meta: ResponseMeta = {
      id: newId('resp'),
      createdAt: Math.floor(ctx.now() / 1000),
      model: req.model,
      echo: echoOf(res),
      includeReasoning: res.include_reasoning !== false,
      tools,
      newItemId: newId,
      newToolCallId: () => ctx.newId('chatcmpl-tool'),
    };
    return serveRuns(ctx, request, reply, {
      model: req.model,
      stream: req.stream === true,
      weight: 1,
      n: 1,
      start: (signal, opts) => startChat(req, ctx, signal, request.id, opts, tools).catch((err: unknown) => Promise.reject(rename(err))),
      collector: () => {
        const b = new ResponseBuilder(meta);
        return { onEvent: (ev) => b.onEvent(ev), result: () => b.result() };
      },
      renderer: () => new ResponseStreamRenderer(meta),
    });
  });
}

function renamed<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw rename(err);
  }
}

/** A chat-side 400 naming a chat field (`messages`, `max_completion_tokens`, ...) names the Responses field instead. */
function rename(err: unknown): unknown {
  if (!(err instanceof InvalidRequestError)) return err;
  const param = responsesParam(err.param);
  if (param === err.param) return err;
  return new InvalidRequestError(err.message, { param, code: err.code, cause: err });
}
