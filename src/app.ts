/**
 * buildApp(config) -> a Fastify instance that is ready to listen but does not listen
 * (fastify's own habit: tests inject or listen on port 0). The app owns its upstream clients,
 * its logger and its metrics registry, and closes them on `app.close()`: no globals.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import { Registry } from 'prom-client';
import type { AppContext } from './app-context.js';
import { registerAuth } from './http/auth.js';
import { createBackend } from './backends/create-backend.js';
import type { Config } from './config/index.js';
import { ProfileResolver } from './engine/resolve-profile.js';
import { errorBodyFor, InvalidRequestError, NotFoundError, toErrorBody, type ErrorEnvelope } from './errors.js';
import { fromFastifyError, refusedKeyError } from './http/fastify-errors.js';
import { logUpstreamDetail, reqSerializer } from './logging/redact.js';
import { lineHooks, stdoutDestination, unbuffered, type LogDestination } from './logging/destination.js';
import { logRequestEnds, requestLoggingOptions } from './logging/request-log.js';
import { createMetrics, type BuildInfo } from './metrics/metrics.js';
import { assertShallow } from './openai/json-depth.js';
import { createProfileRegistry } from './profiles/registry.js';
import { registerChatCompletions } from './routes/chat-completions.js';
import { registerCompletions } from './routes/completions.js';
import { registerMessages } from './routes/messages.js';
import { registerResponses } from './routes/responses.js';
import { registerTokenizer } from './routes/tokenizer.js';
import { registerHealth } from './routes/health.js';
import { registerMetrics } from './routes/metrics.js';
import { registerModels } from './routes/models.js';
import { registerOpenApi } from './routes/openapi.js';
import { UpstreamPool, type PooledBackend } from './replicas/upstream-pool.js';
import { ConcurrencyLimiter } from './http/limiter.js';
import { KeyLimits } from './http/key-limits.js';
import { version } from './version.js';
import { createQuotaGovernor, type QuotaStore } from './quota/index.js';
import { createKeyMetrics } from './metrics/key-metrics.js';
import { createTracing } from './tracing/tracing.js';

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
  /** Replaces the quota store the config picks (tests). */
  quotaStore?: QuotaStore;
  /** Batch delay of the span exporter in ms (tests shorten the SDK's 5 s). */
  traceExportDelayMs?: number;
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
  interface FastifyContextConfig {
    /** The API whose error envelope the route answers in (errors.ts errorBodyFor); default OpenAI's. */
    errorEnvelope?: ErrorEnvelope;
  }
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  // Bodies are never logged (prompts and answers are the users' data); keys are redacted.
  // Standard output, buffered (logging/destination.ts); a test's sink is written at once.
  const out: LogDestination = deps.logDestination ? unbuffered(deps.logDestination) : stdoutDestination(config.logFlushMs);
  const logger = pino(
    {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
      serializers: { req: reqSerializer }, // URLs without their query string (logging/redact.ts)
      ...lineHooks(out),
    },
    out.stream,
  );
  const { connections } = config;
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps FastifyInstance's default generics.
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request, at its end; request.log built only when used (logging/request-log.ts).
    ...requestLoggingOptions(logger),
    bodyLimit: config.limits.bodyLimitBytes,
    // Node's server.requestTimeout bounds RECEIVING the request (headers and body: a trickled
    // body gets 408 and a closed socket); the response, a thinking stream of minutes, is bounded
    // by the upstream timeouts instead.
    requestTimeout: connections.requestTimeoutMs,
    keepAliveTimeout: connections.keepAliveTimeoutMs,
    http: {
      headersTimeout: connections.headersTimeoutMs,
      // How often Node looks for connections past those deadlines (its default is 30 s, which
      // would let a slow-loris connection live 30 s past a 15 s deadline).
      connectionsCheckingInterval: Math.min(1000, connections.headersTimeoutMs),
    },
    return503OnClosing: true,
    // Honour a caller's X-Request-Id when it is a sane token (it reaches logs and vLLM), else mint one.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // A URL the router cannot decode (`/v1/models%`) gets the OpenAI envelope like any other 400.
    frameworkErrors: (_err, _request, reply) => {
      const e = new InvalidRequestError('The request URL is malformed.', { code: 'invalid_url' });
      void (reply as FastifyReply).code(400).header('connection', 'close').send(toErrorBody(e));
    },
  });
  app.server.maxConnections = connections.maxConnections;
  logRequestEnds(app, logger);
  app.addHook('onRequest', async (request, reply) => {
    // On the raw response so that hijacked SSE streams carry it too.
    reply.raw.setHeader('x-request-id', request.id);
  });

  const registry = new Registry();
  const metrics = createMetrics(registry, deps.build ?? { version }, { processMetrics: deps.processMetrics ?? false });
  const keyMetrics = createKeyMetrics(registry);
  const now = deps.now ?? Date.now;
  // The app's own provider and exporter (nothing global); NO_TRACING when tracing is off.
  const tracing = await createTracing(config.tracing, {
    version: deps.build?.version ?? version,
    ...(deps.traceExportDelayMs !== undefined ? { scheduledDelayMs: deps.traceExportDelayMs } : {}),
  });
  const quota = createQuotaGovernor(config.quota, { metrics: keyMetrics, log: app.log, now, ...(deps.quotaStore ? { store: deps.quotaStore } : {}) });
  const backends = deps.backends ?? config.upstreams.map((u) => createBackend(u, config));
  const pool = new UpstreamPool(backends, {
    healthIntervalMs: config.health.intervalMs,
    healthTimeoutMs: config.health.timeoutMs,
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
    quota,
    keyMetrics,
    retry: { retries: config.routing.retries, backoffMs: config.routing.retryBackoffMs },
    tracing,
    now,
    newId: deps.newId ?? ((prefix) => `${prefix}-${randomUUID().replaceAll('-', '')}`),
    draining: false,
    shutdown: shutdownController(),
    routes: [],
  };
  app.decorate('thinkgate', ctx);
  app.addHook('onRoute', (route) => {
    for (const m of [route.method].flat()) ctx.routes.push(`${m} ${route.url}`);
  });

  // One JSON parser for every route and content type (clients that forget
  // `Content-Type: application/json`, curl -d and text/plain, still mean JSON): Fastify's own
  // (prototype-poisoning checks) plus the depth bound, so no route can be handed a body that
  // overflows the stack when it is serialized again.
  type Done = (err: Error | null, body?: unknown) => void;
  const parseJson = app.getDefaultJsonParser('error', 'error') as (req: FastifyRequest, body: string, done: Done) => void;
  const bodyParser = (allowEmpty: boolean) => (req: FastifyRequest, body: string, done: Done): void => {
    if (allowEmpty && body === '') return done(null, undefined);
    parseJson(req, body, (err, value) => {
      if (err) return done(refusedKeyError(body) ?? err);
      try {
        assertShallow(value);
      } catch (e) {
        return done(e as Error);
      }
      done(null, value);
    });
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, bodyParser(false));
  app.addContentTypeParser('*', { parseAs: 'string' }, bodyParser(true));

  registerAuth(app, { apiKeys: config.apiKeys, namedKeys: config.namedKeys, metricsAuth: config.metricsAuth });

  app.setErrorHandler((err, request, reply) => {
    const e = fromFastifyError(err, config.limits.bodyLimitBytes);
    // 503s are expected states (no healthy upstream, draining), probed every few seconds: no stack.
    if (e.status === 503) request.log.warn({ code: e.code, msg: e.message }, 'service unavailable');
    else if (e.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ err: e.message, code: e.code }, 'request rejected');
    // Answered before the body arrived (401, 413, ...): close the socket after the answer rather
    // than let Node keep reading a body nobody wants (a trickling client would hold it open).
    if (!request.raw.complete) reply.header('connection', 'close');
    logUpstreamDetail(request.log, e);
    const envelope = request.is404 ? 'openai' : (request.routeOptions.config.errorEnvelope ?? 'openai');
    void reply.code(e.status).headers(e.headers()).send(errorBodyFor(envelope, e));
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new NotFoundError(`Unknown route: ${request.method} ${request.url.split('?')[0]}`, { code: 'not_found' });
    void reply.code(404).send(toErrorBody(e));
  });

  await registerOpenApi(app);
  registerChatCompletions(app, ctx);
  registerCompletions(app, ctx);
  registerMessages(app, ctx);
  registerResponses(app, ctx);
  registerTokenizer(app, ctx);
  registerModels(app, ctx);
  registerHealth(app, ctx);
  registerMetrics(app, ctx);

  app.addHook('onReady', async () => pool.start());
  app.addHook('onClose', async () => {
    // Tracing last: the spans of requests that ended while closing are flushed too.
    await Promise.all([pool.close(), quota.close()]);
    await tracing.shutdown();
    await out.close(); // last: the lines of closing are written too
  });
  return app;
}

