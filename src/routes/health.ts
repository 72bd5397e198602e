/**
 * Probes for orchestrators (docs/api.md): /health says the process is alive and never depends on
 * upstreams (a liveness probe that did would restart every gateway pod when vLLM restarts);
 * /ready says this instance should get traffic: not draining and an upstream is healthy.
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { ServiceUnavailableError } from '../errors.js';

export function registerHealth(app: FastifyInstance, ctx: AppContext): void {
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async () => {
    if (ctx.draining) throw new ServiceUnavailableError('Draining: this instance is shutting down.');
    if (!ctx.pool.anyHealthy()) throw new ServiceUnavailableError('No healthy upstream.');
    return { status: 'ready' };
  });
}
