/**
 * vLLM's tokenizer routes, relayed to a replica unchanged: POST /tokenize, POST /detokenize and
 * GET /tokenizer_info (vllm/entrypoints/openai/api_server.py; the last needs vLLM's
 * --enable-tokenizer-info-endpoint). lm-eval's `local-completions` probes them to use the served
 * model's own tokenizer ("remote" tokenizer backend, lm_eval/utils.py RemoteTokenizer), so an
 * evaluation through thinkgate needs no model download. They sit at the server root, as in vLLM;
 * with API keys configured they need one, like /v1/*.
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { relay } from '../serving/relay.js';

export const TOKENIZER_ROUTES = ['/tokenize', '/detokenize', '/tokenizer_info'] as const;

export function registerTokenizer(app: FastifyInstance, ctx: AppContext): void {
  const spec = { admission: false, reason: 'tokenizer', headersTimeoutMs: ctx.config.timeouts.requestMs };
  for (const path of ['/tokenize', '/detokenize'] as const) {
    app.post(path, async (request, reply) =>
      relay(ctx, request, reply, { ...spec, method: 'POST', path, route: path, body: request.body ?? {} }),
    );
  }
  app.get('/tokenizer_info', async (request, reply) =>
    relay(ctx, request, reply, { ...spec, method: 'GET', path: '/tokenizer_info', route: '/tokenizer_info' }),
  );
}
