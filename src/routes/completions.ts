/**
 * POST /v1/completions: OpenAI's legacy completions API, the one evaluation harnesses use on
 * already-templated prompts (lm-eval `local-completions`, the s1 harness). Generation requests
 * are budget forced on the raw prompt, and `text` holds thinking, delimiters and answer
 * (runs/completion.ts). Scoring requests (echo / logprobs: lm-eval's loglikelihood) and the
 * other vLLM features that make no sense across segments are relayed to vLLM unchanged
 * (completion-request.ts relayReason, relay.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { startCompletion } from '../runs/completion.js';
import { TextCompletionBuilder, TextCompletionChunks } from '../openai/completion-render.js';
import { parseCompletionRequest, promptsOf, relayReason } from '../openai/completion-request.js';
import { checkRunCount } from '../openai/run-count.js';
import { checkRefusedFields, samplingFields } from '../openai/sampling.js';
import { checkSamplingBytes } from '../runs/upstream-allowance.js';
import { relay } from '../serving/relay.js';
import { serveRuns } from '../serving/serve-runs.js';
import { continuousUsage, streamUsage } from '../openai/stream-usage.js';

export function registerCompletions(app: FastifyInstance, ctx: AppContext): void {
  app.post('/v1/completions', async (request, reply) => {
    const req = parseCompletionRequest(request.body);
    const n = req.n ?? 1;
    const choices = checkRunCount(promptsOf(req).length, n, ctx.config.limits.maxChoicesPerRequest);
    const stream = req.stream === true;
    const why = relayReason(req);
    if (why !== null) {
      return relay(ctx, request, reply, {
        method: 'POST',
        path: '/v1/completions',
        body: request.body,
        route: '/v1/completions',
        reason: why,
        admission: true,
        n,
        headersTimeoutMs: stream ? ctx.config.timeouts.firstTokenMs : 0,
      });
    }
    // Only budget-forced requests: a relayed one reaches vLLM unchanged, which honours these fields itself.
    checkRefusedFields(req, 'completions');
    checkSamplingBytes(samplingFields(req, 'completions'), choices, ctx.config.limits.maxUpstreamBytesPerRequest);
    const usage = streamUsage(req.stream_options);
    const meta = () => ({ id: ctx.newId('cmpl'), created: Math.floor(ctx.now() / 1000), model: req.model, choices, n });
    return serveRuns(ctx, request, reply, {
      model: req.model,
      stream,
      weight: choices,
      n,
      start: (signal, opts) => startCompletion(req, ctx, signal, request.id, opts),
      collector: () => new TextCompletionBuilder(meta()),
      renderer: (started) => new TextCompletionChunks({ ...meta(), includeUsage: usage.include, ...continuousUsage(usage, started) }),
    });
  });
}
