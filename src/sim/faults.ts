/**
 * SIMULATOR fault modes: the ways a real vLLM replica fails, on demand, so that the gateway's
 * timeouts, retries and error mapping can be tested. Chosen per simulator (`fault` option) or
 * per request (header `x-sim-fault`, which wins). They apply to the token generators,
 * `/v1/completions`, `/v1/chat/completions` and `/inference/v1/generate` (`no-token-ids` to the
 * first two only; on the chat endpoint the first chunk keeps its prompt ids), and to
 * `/tokenize` for `http-500` / `http-503` / `malformed-json` / `stall-before-first-token` (no
 * answer at all) when `x-sim-fault-tokenize: 1` (or the `faultTokenize` option) asks for it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidRequestError } from '../errors.js';

export const FAULT_MODES = [
  'none',
  /** Server-wide only: destroy every socket as soon as it connects (per request: at once). */
  'refuse',
  'http-500',
  'http-503',
  /** 200 and the headers, then nothing: a replica stuck in prefill. */
  'stall-before-first-token',
  /** After K tokens stop sending, keep the socket open: a hung engine. */
  'stall-mid-stream',
  /** After K tokens destroy the socket without `[DONE]`: a crashed replica. */
  'close-mid-stream',
  /** After K tokens send one `data:` line of invalid JSON, then go on. */
  'malformed-sse',
  /**
   * After K tokens send one well-formed `data:` event whose JSON is not a completion chunk
   * (`choices` is not a list), then go on. With `faultTokenize`, /tokenize answers 200 with a
   * body that is not JSON at all.
   */
  'malformed-json',
  /**
   * After K tokens the body stops being SSE: a proxy's HTML error page (lines with no `data:`
   * field and no blank-line framing), then a clean end of the response without `[DONE]`.
   */
  'broken-sse',
  /**
   * After K tokens vLLM's own mid-stream failure: one `data: {"error": ...}` event (in the
   * simulator's errorFormat), then `data: [DONE]`, as serving_completion.py's
   * completion_stream_generator does when the engine raises after the 200.
   */
  'error-event',
  /** Omit `token_ids` / `prompt_token_ids` (a vLLM older than 0.10.2). */
  'no-token-ids',
  /** An extra delay per token. */
  'slow',
] as const;

export type FaultMode = (typeof FAULT_MODES)[number];

export interface FaultPlan {
  mode: FaultMode;
  /** K: tokens sent before a mid-stream fault strikes. */
  after: number;
  /** Extra per-token delay for `slow`. */
  slowDelayMs: number;
  /** Whether http-500/http-503/malformed-json/stall-before-first-token also hit /tokenize. */
  tokenize: boolean;
}

export interface FaultDefaults {
  fault: FaultMode;
  faultAfter: number;
  slowDelayMs: number;
  faultTokenize: boolean;
  /**
   * The first N /v1/completions, /v1/chat/completions or /inference/v1/generate requests after `setOptions` (or `reset`) are served normally,
   * so a fault can strike a later segment of one gateway request (after its stream opened).
   * With N > 0, `refuse` acts per request (the faulted request's socket is destroyed) instead
   * of on every new connection.
   */
  faultSkip: number;
}

export function isFaultMode(v: string): v is FaultMode {
  return (FAULT_MODES as readonly string[]).includes(v);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function nonNegativeInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidRequestError(`${name} must be a non-negative integer`);
  return n;
}

/** The fault for one request: the headers win over the simulator's options. */
export function resolveFault(headers: IncomingHttpHeaders, defaults: FaultDefaults): FaultPlan {
  const h = header(headers, 'x-sim-fault')?.trim();
  if (h !== undefined && !isFaultMode(h)) {
    throw new InvalidRequestError(`x-sim-fault must be one of ${FAULT_MODES.join(', ')}; got "${h}"`);
  }
  const tok = header(headers, 'x-sim-fault-tokenize');
  return {
    mode: h ?? defaults.fault,
    after: nonNegativeInt(header(headers, 'x-sim-fault-after'), 'x-sim-fault-after') ?? defaults.faultAfter,
    slowDelayMs:
      nonNegativeInt(header(headers, 'x-sim-fault-delay-ms'), 'x-sim-fault-delay-ms') ?? defaults.slowDelayMs,
    tokenize: tok === undefined ? defaults.faultTokenize : tok === '1' || tok === 'true',
  };
}

/** The status of an HTTP-error fault, or null. */
export function faultStatus(mode: FaultMode): 500 | 503 | null {
  return mode === 'http-500' ? 500 : mode === 'http-503' ? 503 : null;
}

/** A `data:` line that is not JSON, as a broken proxy or a torn write would produce. */
export const MALFORMED_SSE_EVENT = 'data: {"id":"cmpl-garbage","choices":[{"text":\n\n';

/** A well-formed event whose JSON is not a CompletionStreamResponse (`choices` must be a list). */
export const MALFORMED_JSON_EVENT = 'data: {"id":"cmpl-garbage","object":"text_completion","choices":{"text":"x"}}\n\n';

/** What a proxy in front of vLLM may splice into a response: an HTML page, no SSE framing. */
export const BROKEN_SSE_BODY = '<html>\n<head><title>502 Bad Gateway</title></head>\n<body>502 Bad Gateway</body>\n</html>\n';
