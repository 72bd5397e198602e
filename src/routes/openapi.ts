/**
 * GET /openapi.yaml: the hand-written contract, served through @fastify/swagger in static mode
 * (so tooling that expects the plugin's decorators works) and checked against the routes by
 * test/integration/openapi-routes.test.ts.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

/** openapi.yaml sits at the package root: two levels up from dist/src, one from src. */
export function findOpenApiFile(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from, i = 0; i < 5; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'openapi.yaml');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`openapi.yaml not found above ${from}`);
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  const file = findOpenApiFile();
  await app.register(swagger, { mode: 'static', specification: { path: file, baseDir: dirname(file) } });
  app.get('/openapi.yaml', async (_request, reply) => {
    reply.header('content-type', 'application/yaml; charset=utf-8');
    return app.swagger({ yaml: true });
  });
}
