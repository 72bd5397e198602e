/**
 * vLLM failures -> thinkgate's error hierarchy (src/errors.ts). One place, so that streaming
 * and non-streaming calls report the same thing for the same failure.
 *
 * - HTTP status before the stream: `mapUpstreamStatus`.
 * - `data: {"error": ...}` inside the stream (vLLM's create_streaming_error_response):
 *   `mapStreamErrorEvent`.
 * - Socket-level failures (undici / node:net error codes): `mapTransportError`.
 */
import {
  InvalidRequestError,
  NotFoundError,
  ServiceUnavailableError,
  UpstreamError,
  UpstreamTimeoutError,
  type ThinkgateError,
} from '../errors.js';
import { errorInfoOf, VllmErrorBodySchema, type VllmErrorInfo } from './vllm/schemas.js';

/**
 * vLLM's wording for prompt + max_tokens over max_model_len, across versions:
 * "This model's maximum context length is 4096 tokens. However, you requested ..."
 * "'max_tokens' ... is too large: ... This model's maximum context length is ..."
 * "The decoder prompt (length 5000) is longer than the maximum model length of 4096."
 */
const CONTEXT_LENGTH_RE = /maximum context length|maximum model length|max_model_len|context length/i;

export function isContextLengthMessage(message: string): boolean {
  return CONTEXT_LENGTH_RE.test(message);
}

/** Parses an error body: vLLM's envelope (either shape), else a trimmed excerpt of the raw text. */
export function parseErrorBody(text: string): { message: string; info: VllmErrorInfo | null } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { message: excerpt(text), info: null };
  }
  const parsed = VllmErrorBodySchema.safeParse(json);
  if (parsed.success) {
    const info = errorInfoOf(parsed.data);
    return { message: info.message, info };
  }
  // FastAPI's own errors (an unknown route: {"detail": "Not Found"}).
  if (typeof json === 'object' && json !== null && 'detail' in json) {
    const detail = (json as { detail: unknown }).detail;
    return { message: typeof detail === 'string' ? detail : excerpt(JSON.stringify(detail)), info: null };
  }
  return { message: excerpt(text), info: null };
}

function excerpt(text: string): string {
  const t = text.trim();
  return t.length > 500 ? `${t.slice(0, 500)}…` : t;
}

/**
 * Client-facing messages are ours and stable: the upstream's text (a traceback, a proxy page,
 * model output) can hold secrets and goes to the redacted debug log only (`detail`, see
 * src/logging/redact.ts). The one class worth more words is "context length exceeded": its limit
 * is a number, safe to repeat.
 */
export function contextLengthError(upstreamMessage: string): InvalidRequestError {
  const limit = /(?:maximum context length is|maximum model length of|max_model_len(?: is|=|:)?)\s*(\d{1,9})/i.exec(upstreamMessage)?.[1];
  const message =
    limit === undefined
      ? "The prompt plus max_tokens exceeds this model's context length."
      : `This model's maximum context length is ${limit} tokens; the prompt plus max_tokens exceeds it.`;
  return new InvalidRequestError(message, { code: 'context_length_exceeded', param: 'messages', detail: upstreamMessage });
}

/** vLLM's `param` is a field name; anything else (or a long one) is not repeated. */
function safeParam(param: string | null | undefined): string | null {
  return param != null && /^[A-Za-z_][\w.[\]]{0,63}$/.test(param) ? param : null;
}

/**
 * An HTTP error status from vLLM (before any streamed byte) -> a ThinkgateError.
 * `what` names the call ("POST /v1/completions") for messages that are ours.
 */
export function mapUpstreamStatus(status: number, bodyText: string, what: string): ThinkgateError {
  const { message, info } = parseErrorBody(bodyText);
  const detail = message === '' ? undefined : message;
  const opts = detail === undefined ? {} : { detail };
  // The client's own request was bad (vLLM validates sampling fields and lengths): 400, with
  // vLLM's `param` when it names a field. FastAPI validation errors are 422 in some versions.
  if (status === 400 || status === 422) {
    if (isContextLengthMessage(message)) return contextLengthError(message);
    return new InvalidRequestError(`The upstream rejected the request as invalid (HTTP ${status}).`, {
      code: 'upstream_rejected_request',
      param: safeParam(info?.param),
      ...opts,
    });
  }
  if (status === 404) {
    // vLLM's unknown model is its ErrorResponse ("The model `x` does not exist."); an unknown
    // route is FastAPI's {"detail": "Not Found"}: a misconfigured base URL or an old vLLM.
    // (A huge id can push the error body past our read limit; its start still says which.)
    if (info !== null || /"(message|detail)"\s*:\s*"The model/.test(bodyText)) {
      return new NotFoundError('The model does not exist on the upstream.', { code: 'model_not_found', param: 'model', ...opts });
    }
    return new UpstreamError(`vLLM has no ${what} (HTTP 404): check the upstream URL and that it runs vLLM >= 0.10.`, {
      upstreamStatus: status,
      ...opts,
    });
  }
  if (status === 429 || status === 503) {
    return new ServiceUnavailableError(`vLLM is overloaded or not ready (HTTP ${status}).`, opts);
  }
  if (status === 504 || status === 408) {
    return new UpstreamTimeoutError(`vLLM (or a proxy before it) timed out (HTTP ${status}).`, opts);
  }
  if (status === 401 || status === 403) {
    return new UpstreamError(`vLLM refused thinkgate's credentials (HTTP ${status}): check the upstream api key.`, {
      upstreamStatus: status,
      ...opts,
    });
  }
  return new UpstreamError(`vLLM failed (HTTP ${status}).`, { upstreamStatus: status, ...opts });
}

/** A `data: {"error": ...}` event inside a stream: vLLM failed after sending 200. */
export function mapStreamErrorEvent(info: VllmErrorInfo): ThinkgateError {
  // Old vLLM raised prompt-length errors inside the stream generator, so they arrive here
  // (with its default code 400); everything else is a generation failure on vLLM's side.
  if (isContextLengthMessage(info.message)) return contextLengthError(info.message);
  const status = typeof info.code === 'number' ? info.code : undefined;
  return new UpstreamError('vLLM failed during generation.', {
    detail: info.message,
    ...(status === undefined ? {} : { upstreamStatus: status }),
  });
}

/** Nobody is there: the replica leaves rotation until its probe passes (passive health). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * The connection broke before a response: a reset under load, a pooled keep-alive socket the
 * server had closed. Retried elsewhere, but no proof that the replica is gone.
 */
const BROKEN_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy Eyeballs (autoSelectFamily) reports an AggregateError of per-address failures.
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) return errorCode(errors[0]);
  const cause = (err as { cause?: unknown }).cause;
  return cause === undefined ? undefined : errorCode(cause);
}

/**
 * A failure below HTTP (no status to map) -> a ThinkgateError. `phase` says whether any
 * response had started: a reset before the response is "unreachable", after it "closed early".
 */
export function mapTransportError(err: unknown, what: string, phase: 'connect' | 'response'): ThinkgateError {
  const code = errorCode(err);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new UpstreamTimeoutError(`Timed out connecting to vLLM for ${what} (connect timeout).`, {
      cause: err,
      code: 'upstream_connect_timeout',
    });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new UpstreamTimeoutError(`vLLM did not answer ${what} in time.`, { cause: err });
  }
  if (phase === 'response') {
    return new UpstreamError(`vLLM failed mid-response (${what}${code === undefined ? '' : `, ${code}`}): upstream closed the stream early.`, {
      cause: err,
    });
  }
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new UpstreamError(`vLLM is unreachable for ${what} (${code}).`, { code: 'upstream_unreachable', cause: err });
  }
  if (code !== undefined && BROKEN_CODES.has(code)) {
    return new UpstreamError(`The connection to vLLM broke for ${what} (${code}).`, { code: 'upstream_request_failed', cause: err });
  }
  // Anything else (a reset under load, a socket error) is a failed request, not proof the
  // replica is gone: retried elsewhere, but it does not take the replica out of rotation.
  const detail = err instanceof Error ? err.message : String(err);
  return new UpstreamError(`Request to vLLM failed for ${what}.`, { code: 'upstream_request_failed', cause: err, detail });
}
