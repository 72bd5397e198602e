/**
 * buildApp(config) -> a Fastify instance that is ready to listen but does not listen
 * (fastify's own habit: tests inject or listen on port 0). The app owns its upstream clients,
 * its logger and its metrics registry, and closes them on `app.close()`: no globals.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import { Registry } from 'prom-client';
import type { AppContext } from './app-context.js';
import { createKeyCheck } from './auth.js';
import { createBackend } from './create-backend.js';
import type { Config } from './config.js';
import { ProfileResolver } from './engine/resolve-profile.js';
import { NotFoundError, toErrorBody } from './errors.js';
import { fromFastifyError } from './http-errors.js';
import { logUpstreamDetail, reqSerializer } from './log-redact.js';
import { createMetrics, type BuildInfo } from './metrics.js';
import { createProfileRegistry } from './profiles/registry.js';
import { registerChatCompletions } from './routes/chat-completions.js';
import { registerCompletions } from './routes/completions.js';
import { registerTokenizer, TOKENIZER_ROUTES } from './routes/tokenizer.js';
import { registerHealth } from './routes/health.js';
import { registerMetrics } from './routes/metrics.js';
import { registerModels } from './routes/models.js';
import { registerOpenApi } from './routes/openapi.js';
import { UpstreamPool, type PooledBackend } from './upstream-pool.js';
import { ConcurrencyLimiter } from './limiter.js';
import { KeyLimits } from './key-limits.js';
import { version } from './version.js';

export interface AppDeps {
  /** Replaces the vLLM clients built from config.upstreams (tests). */
  backends?: PooledBackend[];
  /** Where the app's own pino logger writes (tests capture it); default stdout. */
  logDestination?: DestinationStream;
  now?: () => number;
  newId?: (prefix: string) => string;
  build?: BuildInfo;
  /** prom-client's process metrics: only for the process's one long-lived app. */
  processMetrics?: boolean;
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** Every in-flight request listens on it, so Node's 10-listener leak warning does not apply. */
function shutdownController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

declare module 'fastify' {
  interface FastifyInstance {
    thinkgate: AppContext;
  }
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  // Bodies are never logged (prompts and answers are the users' data); keys are redacted.
  const logger = pino(
    {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
      serializers: { req: reqSerializer }, // URLs without their query string (log-redact.ts)
    },
    deps.logDestination ?? pino.destination(1),
  );
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps FastifyInstance's default generics.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.limits.bodyLimitBytes,
    // Long thinking streams outlive any default; the upstream timeouts bound them instead.
    requestTimeout: 0,
    return503OnClosing: true,
    // Honour a caller's X-Request-Id when it is a sane token (it reaches logs and vLLM), else mint one.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    // On the raw response so that hijacked SSE streams carry it too.
    reply.raw.setHeader('x-request-id', request.id);
  });

  const registry = new Registry();
  const metrics = createMetrics(registry, deps.build ?? { version }, { processMetrics: deps.processMetrics ?? false });
  const backends = deps.backends ?? config.upstreams.map((u) => createBackend(u, config));
  const pool = new UpstreamPool(backends, {
    healthIntervalMs: config.health.intervalMs,
    onHealth: (upstream, healthy) => {
      metrics.setUpstreamHealthy(upstream, healthy);
      app.log[healthy ? 'info' : 'warn']({ upstream, healthy }, 'upstream health changed');
    },
  });
  const ctx: AppContext = {
    config,
    pool,
    registry: createProfileRegistry(config),
    resolver: new ProfileResolver(),
    metrics,
    limiter: new ConcurrencyLimiter({
      maxConcurrent: config.limits.maxConcurrentRequests,
      maxQueue: config.limits.maxQueue,
      queueTimeoutMs: config.limits.queueTimeoutMs,
      onWait: (s) => metrics.queueWait(s),
      onQueueDepth: (d) => metrics.queueDepth(d),
    }),
    keyLimits: new KeyLimits(config.limits.perKeyMaxConcurrent),
    retry: { retries: config.routing.retries, backoffMs: config.routing.retryBackoffMs },
    now: deps.now ?? Date.now,
    newId: deps.newId ?? ((prefix) => `${prefix}-${randomUUID().replaceAll('-', '')}`),
    draining: false,
    shutdown: shutdownController(),
    routes: [],
  };
  app.decorate('thinkgate', ctx);
  app.addHook('onRoute', (route) => {
    for (const m of [route.method].flat()) ctx.routes.push(`${m} ${route.url}`);
  });

  // Clients that forget `Content-Type: application/json` (curl -d, text/plain) still mean JSON.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const checkKey = createKeyCheck(config.apiKeys);
  if (checkKey) {
    app.addHook('onRequest', async (request) => {
      if (request.url.startsWith('/v1/') || isTokenizerRoute(request.url)) checkKey(request.headers.authorization);
    });
  }

  app.setErrorHandler((err, request, reply) => {
    const e = fromFastifyError(err, config.limits.bodyLimitBytes);
    // 503s are expected states (no healthy upstream, draining), probed every few seconds: no stack.
    if (e.status === 503) request.log.warn({ code: e.code, msg: e.message }, 'service unavailable');
    else if (e.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ err: e.message, code: e.code }, 'request rejected');
    logUpstreamDetail(request.log, e);
    void reply.code(e.status).headers(e.headers()).send(toErrorBody(e));
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new NotFoundError(`Unknown route: ${request.method} ${request.url.split('?')[0]}`, { code: 'not_found' });
    void reply.code(404).send(toErrorBody(e));
  });

  await registerOpenApi(app);
  registerChatCompletions(app, ctx);
  registerCompletions(app, ctx);
  registerTokenizer(app, ctx);
  registerModels(app, ctx);
  registerHealth(app, ctx);
  registerMetrics(app, ctx);

  app.addHook('onReady', async () => pool.start());
  app.addHook('onClose', async () => pool.close());
  return app;
}

function isTokenizerRoute(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return (TOKENIZER_ROUTES as readonly string[]).includes(path);
}
