/** GET /metrics: Prometheus exposition of this app's own registry (docs/metrics.md). */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';

export function registerMetrics(app: FastifyInstance, ctx: AppContext): void {
  app.get('/metrics', async (_request, reply) => {
    const registry = ctx.metrics.registry;
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
