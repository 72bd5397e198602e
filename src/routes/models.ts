/** GET /v1/models: the models the upstreams serve, in OpenAI's list shape (vLLM extras kept). */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';

export function registerModels(app: FastifyInstance, ctx: AppContext): void {
  app.get('/v1/models', async () => {
    const models = await ctx.pool.models();
    return {
      object: 'list',
      data: models.map((m) => ({
        id: m.id,
        object: 'model',
        created: m.created ?? 0,
        owned_by: m.ownedBy ?? 'vllm',
        ...(m.root === undefined ? {} : { root: m.root }),
        ...(m.maxModelLen === undefined ? {} : { max_model_len: m.maxModelLen }),
      })),
    };
  });
}
