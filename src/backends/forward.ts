/**
 * Relaying a request to one upstream unchanged: what thinkgate does for the calls it has no
 * reason to rewrite (issue 7: lm-eval's `local-completions` loglikelihood requests with `echo`
 * and `logprobs`, and its remote-tokenizer probe of /tokenize, /detokenize, /tokenizer_info).
 * The body goes out as the same JSON value the client sent (re-serialized from the parsed body:
 * whitespace and `1.0` vs `1` may differ, nothing else) and comes back as a stream, so a streamed
 * relay keeps its pacing and a 10 MB echo response is never buffered. Status and body are the upstream's own,
 * errors included (vLLM already answers in the OpenAI envelope).
 */
import type { Readable } from 'node:stream';

export interface ForwardRequest {
  method: 'GET' | 'POST';
  /** Path under the upstream's root, with its query string (e.g. `/v1/completions`). */
  path: string;
  /** The client's raw body (JSON text), sent as is. */
  body?: string;
  /** Tied to the upstream request (vLLM takes X-Request-Id as its request id). */
  requestId?: string;
  /** Aborting it closes the upstream socket (client disconnect -> upstream abort). */
  signal: AbortSignal;
  /** Deadline for the upstream's response headers; 0 = none (a non-stream generation answers only at its end). */
  headersTimeoutMs: number;
  /** Longest gap between two body chunks; 0 = none. */
  bodyTimeoutMs: number;
}

export interface ForwardResponse {
  status: number;
  contentType: string | undefined;
  body: Readable;
}

/** An upstream that can relay raw requests (the HTTP backends; not the engine's test fakes). */
export interface Forwarder {
  forward(req: ForwardRequest): Promise<ForwardResponse>;
}

export function canForward(b: object): b is Forwarder {
  return typeof (b as Partial<Forwarder>).forward === 'function';
}
