/**
 * The one error hierarchy of thinkgate and its mapping to each API's error envelope, here and
 * nowhere else: OpenAI's (`{"error": {"message", "type", "param", "code"}}`, as openai-node's
 * APIError reads it) and Anthropic's (`{"type": "error", "error": {"type", "message"}}`, as
 * @anthropic-ai/sdk reads it, for /v1/messages).
 *
 * Every module throws a subclass of ThinkgateError; the HTTP layer calls `errorBodyFor`
 * (before the first byte: status + JSON body; after it: one SSE error event).
 * This file imports nothing, so the pure engine may throw these too.
 */

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error'
  | 'timeout_error';

export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
}

export interface ErrorOptions {
  param?: string | null;
  code?: string | null;
  cause?: unknown;
  /**
   * The upstream's own words (its error body, the chunk it choked on): for a redacted debug
   * log only (src/logging/redact.ts), never rendered to a client and never in the error log.
   */
  detail?: string;
}

export abstract class ThinkgateError extends Error {
  abstract readonly status: number;
  abstract readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly code: string | null;
  // Private: pino's err serializer copies enumerable fields into the error log.
  readonly #detail: string | undefined;

  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.#detail = opts.detail;
  }

  /** What the upstream said (ErrorOptions.detail), unredacted: log it only through src/logging/redact.ts. */
  get upstreamDetail(): string | undefined {
    return this.#detail;
  }

  /** Extra response headers (Retry-After for 429/503). */
  headers(): Record<string, string> {
    return {};
  }
}

/** 400: a bad field, bad JSON, an impossible budget (m > M). */
export class InvalidRequestError extends ThinkgateError {
  readonly status = 400;
  readonly type = 'invalid_request_error' as const;
}

/** 401: missing or wrong bearer key. */
export class AuthenticationError extends ThinkgateError {
  readonly status = 401;
  readonly type = 'authentication_error' as const;
  constructor(message = 'Incorrect or missing API key.', opts: ErrorOptions = {}) {
    super(message, { code: 'invalid_api_key', ...opts });
  }
}

/** 404: unknown model or route. */
export class NotFoundError extends ThinkgateError {
  readonly status = 404;
  readonly type = 'not_found_error' as const;
}

/** 413: body over the configured limit. */
export class PayloadTooLargeError extends ThinkgateError {
  readonly status = 413;
  readonly type = 'invalid_request_error' as const;
}

/** 429: concurrency limit or queue full. */
export class RateLimitError extends ThinkgateError {
  readonly status = 429;
  readonly type = 'rate_limit_error' as const;
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
    opts: ErrorOptions = {},
  ) {
    super(message, { code: 'rate_limit_exceeded', ...opts });
  }
  override headers(): Record<string, string> {
    return { 'retry-after': String(this.retryAfterSeconds) };
  }
}

/**
 * 429 of a named key's policy (quota/governor.ts): its thinking quota (`thinking_quota_exceeded`)
 * or its request rate (`rate_limit_exceeded`) is spent until `resetSeconds`. Headers as OpenAI
 * names them (x-ratelimit-{limit,remaining,reset}-{tokens,requests}; reset as "1m30s"), plus
 * Retry-After in whole seconds.
 */
export class KeyLimitError extends RateLimitError {
  constructor(
    message: string,
    readonly kind: 'tokens' | 'requests',
    readonly limit: number,
    readonly resetSeconds: number,
    opts: ErrorOptions = {},
  ) {
    super(message, Math.max(1, Math.ceil(resetSeconds)), { code: kind === 'tokens' ? 'thinking_quota_exceeded' : 'rate_limit_exceeded', ...opts });
  }
  override headers(): Record<string, string> {
    return {
      ...super.headers(),
      [`x-ratelimit-limit-${this.kind}`]: String(this.limit),
      [`x-ratelimit-remaining-${this.kind}`]: '0',
      [`x-ratelimit-reset-${this.kind}`]: formatReset(this.resetSeconds),
    };
  }
}

/** OpenAI's reset format: "6m0s", "1s", "20ms", "1h2m3s". */
export function formatReset(seconds: number): string {
  if (seconds < 1) return `${Math.max(0, Math.round(seconds * 1000))}ms`;
  let s = Math.ceil(seconds);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

/** 502: the upstream answered with an error or with something we cannot parse. */
export class UpstreamError extends ThinkgateError {
  readonly status = 502;
  readonly type = 'upstream_error' as const;
  /** HTTP status the upstream sent, when it sent one. */
  readonly upstreamStatus: number | null;
  constructor(message: string, opts: ErrorOptions & { upstreamStatus?: number } = {}) {
    super(message, { code: 'upstream_error', ...opts });
    this.upstreamStatus = opts.upstreamStatus ?? null;
  }
}

/** 503: no healthy upstream, or draining. */
export class ServiceUnavailableError extends ThinkgateError {
  readonly status = 503;
  readonly type = 'server_error' as const;
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, { code: 'service_unavailable', ...opts });
  }
  override headers(): Record<string, string> {
    return { 'retry-after': '1' };
  }
}

/** 504: the upstream did not answer in time (connect, first token, or idle between tokens). */
export class UpstreamTimeoutError extends ThinkgateError {
  readonly status = 504;
  readonly type = 'timeout_error' as const;
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, { code: 'upstream_timeout', ...opts });
  }
}

/** 500: a bug. Its message is not shown to clients. */
export class InternalError extends ThinkgateError {
  readonly status = 500;
  readonly type = 'server_error' as const;
}

/** The request was cancelled (client went away). Never rendered: there is nobody to render to. */
export class AbortedError extends Error {
  constructor(message = 'The request was aborted.') {
    super(message);
    this.name = 'AbortError';
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err instanceof AbortedError);
}

/** Anything thrown -> a ThinkgateError (unknown errors become a 500 that hides internals). */
export function toThinkgateError(err: unknown): ThinkgateError {
  if (err instanceof ThinkgateError) return err;
  return new InternalError('The server had an error while processing your request.', { cause: err });
}

/** The one mapping to the OpenAI envelope. */
export function toErrorBody(err: ThinkgateError): OpenAIErrorBody {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}

/** Which API's envelope a route answers errors in (its Fastify route config, `errorEnvelope`). */
export type ErrorEnvelope = 'openai' | 'anthropic';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

/**
 * Anthropic's error types by status (its API reference, "Errors"). The HTTP status is the
 * same as on OpenAI routes; `param`, which Anthropic's envelope has no field for, leads the message.
 */
function anthropicType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return 'api_error';
  }
}

/** The one mapping to Anthropic's envelope. */
export function toAnthropicErrorBody(err: ThinkgateError): AnthropicErrorBody {
  const message = err.param !== null && !err.message.includes(err.param) ? `${err.param}: ${err.message}` : err.message;
  return { type: 'error', error: { type: anthropicType(err.status), message } };
}

/** The error body in `envelope`. */
export function errorBodyFor(envelope: ErrorEnvelope, err: ThinkgateError): OpenAIErrorBody | AnthropicErrorBody {
  return envelope === 'anthropic' ? toAnthropicErrorBody(err) : toErrorBody(err);
}
