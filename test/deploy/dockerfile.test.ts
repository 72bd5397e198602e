/**
 * Properties of the Dockerfile that the chart and compose file rely on and that hadolint does
 * not check (no Docker engine here to build it): two stages, production dependencies only,
 * non-root numeric user, tini as PID 1, a HEALTHCHECK on /health, OCI labels, a .dockerignore
 * that keeps the context small and secret-free.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './tools.js';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
/** Instructions with line continuations joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const production = instructions.slice(instructions.findIndex((l) => /^FROM .* AS production$/.test(l)));

describe('Dockerfile', () => {
  it('builds in one stage and runs from another with production dependencies only', () => {
    expect(instructions.filter((l) => l.startsWith('FROM '))).toEqual(['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE} AS production']);
    expect(instructions).toContain('ARG NODE_IMAGE=node:24.22.3-bookworm-slim');
    expect(production.some((l) => l.startsWith('RUN npm ci --omit=dev'))).toBe(true);
    expect(production.some((l) => l.startsWith('COPY --from=build /app/dist ./dist'))).toBe(true);
    expect(production.find((l) => l.startsWith('ENV '))).toMatch(/NODE_ENV=production/);
  });

  it('runs as a non-root numeric user, under tini, with a liveness HEALTHCHECK', () => {
    expect(production.filter((l) => l.startsWith('USER '))).toEqual(['USER 1000:1000']);
    expect(production).toContain('ENTRYPOINT ["/usr/bin/tini", "-g", "--"]');
    expect(production.at(-1)).toBe('CMD ["node", "dist/src/index.js"]');
    expect(production.find((l) => l.startsWith('HEALTHCHECK '))).toMatch(/\/health/);
  });

  it('carries OCI labels', () => {
    const labels = production.find((l) => l.startsWith('LABEL ')) ?? '';
    for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'created', 'base.name']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it('.dockerignore keeps out dependencies, builds, VCS and secrets', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', 'node_modules', 'dist', '.cache', '.env', 'test']) expect(ignored).toContain(entry);
    for (const needed of ['src', 'package.json', 'package-lock.json', 'openapi.yaml', 'tsconfig.json']) {
      expect(ignored).not.toContain(needed);
    }
  });
});
