/**
 * Request logging that costs one line per request at `info` (issue 14, item 7).
 *
 * Fastify's default writes two lines per request ("incoming request", "request completed")
 * through a pino child logger it builds for every request. thinkgate turns that off
 * (`LogController` with `disableRequestLogging`) and writes ONE line when the response ends, from the root logger
 * with the request id as a field; `request.log` becomes a lazy child that is only built when
 * something logs through it at an enabled level (a warning, an error, debug detail), so the
 * common request builds no logger at all.
 */
import { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The root logger's view this file needs (pino's Logger has all of it). */
export interface RootLogger extends FastifyBaseLogger {
  isLevelEnabled(level: string): boolean;
}

/**
 * A child logger built on first use: each level method checks the root's level first, so a
 * disabled call costs a lookup, and an enabled one builds the real child once.
 */
export class LazyChildLogger implements FastifyBaseLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly root: RootLogger,
    private readonly bindings: Bindings,
    private readonly options?: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.real?.level ?? this.root.level;
  }

  set level(level: string) {
    this.materialise().level = level;
  }

  readonly fatal: LogFn = (...args: unknown[]) => this.log('fatal', args);
  readonly error: LogFn = (...args: unknown[]) => this.log('error', args);
  readonly warn: LogFn = (...args: unknown[]) => this.log('warn', args);
  readonly info: LogFn = (...args: unknown[]) => this.log('info', args);
  readonly debug: LogFn = (...args: unknown[]) => this.log('debug', args);
  readonly trace: LogFn = (...args: unknown[]) => this.log('trace', args);
  readonly silent: LogFn = () => {};

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.materialise().child(bindings, options);
  }

  private log(level: Level, args: unknown[]): void {
    // A level set on this child (rare) is the real child's business; otherwise the root decides.
    if (this.real === undefined && !this.root.isLevelEnabled(level)) return;
    (this.materialise()[level] as (...a: unknown[]) => void)(...args);
  }

  private materialise(): FastifyBaseLogger {
    this.real ??= this.root.child(this.bindings, this.options);
    return this.real;
  }
}

/**
 * Fastify options for the scheme above: no per-request lines of its own, lazy request loggers.
 * Pass them to `Fastify()`, then call `logRequestEnds(app, root)`.
 */
export function requestLoggingOptions(root: RootLogger): {
  logController: LogController;
  childLoggerFactory: (logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions) => FastifyBaseLogger;
} {
  return {
    // Fastify 5.x's way (the top-level disableRequestLogging option is deprecated).
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (_logger, bindings, opts) => new LazyChildLogger(root, bindings, opts),
  };
}

/**
 * One `request completed` line per request when its response ends (SSE streams included:
 * Fastify runs onResponse hooks for hijacked replies when the raw response finishes or
 * closes), with the fields Fastify's two default lines carried: request id, the request (through
 * the root's `req` serializer: method, path without query string, peer), status, and response
 * time in ms.
 */
export function logRequestEnds(app: FastifyInstance, root: RootLogger): void {
  app.addHook('onResponse', async (request, reply) => {
    if (!root.isLevelEnabled('info')) return;
    root.info(
      { reqId: request.id, req: request, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime },
      'request completed',
    );
  });
}
