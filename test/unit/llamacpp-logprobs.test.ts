/**
 * llama.cpp-backed models refuse logprobs with a 400 naming `logprobs` (src/backends/llamacpp/client.ts):
 * llama-server's `n_probs` comes per piece of text, and a piece that ends inside a multi-byte
 * character has no id (issue 13, item 9), so there is no entry per id to render. The refusal
 * happens before any socket is opened, and it is not a replica failure (never retried elsewhere).
 */
import { describe, expect, it } from 'vitest';
import { LlamaCppBackend } from '../../src/backends/llamacpp/client.js';
import { InvalidRequestError } from '../../src/errors.js';
import { isRetryable } from '../../src/replicas/retry-policy.js';

describe('llama.cpp and logprobs', () => {
  it('refuses a segment that asks for logprobs, naming the field; plain segments are untouched', async () => {
    // Port 9 (discard): nothing listens; a refusal must come before any connection attempt.
    const b = new LlamaCppBackend({ baseUrl: 'http://127.0.0.1:9', timeouts: { connectMs: 200, firstTokenMs: 200, idleMs: 200, requestMs: 200 } });
    let err: unknown;
    try {
      for await (const _ of b.streamCompletion({ model: 'm', promptIds: [1], maxTokens: 4, sampling: {}, logprobs: 2 }, new AbortController().signal)) {
        // nothing
      }
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).param).toBe('logprobs');
    expect((err as InvalidRequestError).status).toBe(400);
    expect(isRetryable(err)).toBe(false);
    await b.close?.();
  });
});
