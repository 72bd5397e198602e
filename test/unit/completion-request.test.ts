/**
 * /v1/completions request parsing: the four prompt shapes, which requests are relayed unchanged
 * and which are budget forced, and what never reaches vLLM as a sampling field.
 */
import { describe, expect, it } from 'vitest';
import { parseCompletionRequest, promptsOf, relayReason } from '../../src/openai/completion-request.js';
import { samplingFields } from '../../src/openai/sampling.js';
import { InvalidRequestError } from '../../src/errors.js';

const parse = (extra: Record<string, unknown>) => parseCompletionRequest({ model: 'm', prompt: 'p', ...extra });

describe('completion request', () => {
  it('takes the four prompt shapes of vLLM, one prompt per entry', () => {
    expect(promptsOf(parse({ prompt: 'a' }))).toEqual(['a']);
    expect(promptsOf(parse({ prompt: ['a', 'b'] }))).toEqual(['a', 'b']);
    expect(promptsOf(parse({ prompt: [1, 2, 3] }))).toEqual([[1, 2, 3]]);
    expect(promptsOf(parse({ prompt: [[1], [2, 3]] }))).toEqual([[1], [2, 3]]);
  });

  it.each([[[]], [[[]]], [[1, 'a']], [5], [[-1]], [[1.5]], [{}]])('refuses prompt %j with a 400 naming prompt', (prompt) => {
    try {
      parse({ prompt });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as InvalidRequestError).param).toMatch(/^prompt/);
    }
  });

  it('relays scoring and single-pass features, forces plain generation', () => {
    expect(relayReason(parse({ echo: true, logprobs: 1, max_tokens: 1 }))).toBe('echo');
    expect(relayReason(parse({ logprobs: 0 }))).toBe('logprobs');
    expect(relayReason(parse({ prompt_logprobs: 1 }))).toBe('prompt_logprobs');
    expect(relayReason(parse({ suffix: 'x' }))).toBe('suffix');
    expect(relayReason(parse({ best_of: 2 }))).toBe('best_of');
    expect(relayReason(parse({ max_tokens: 0 }))).toBe('max_tokens_0');
    expect(relayReason(parse({ echo: false, best_of: 1, max_tokens: 5, max_thinking_tokens: 3, stop: ['\n\n'] }))).toBeNull();
    // Explicit nulls, as the openai SDKs send them, are absent.
    expect(relayReason(parse({ echo: null, logprobs: null, suffix: null }))).toBeNull();
  });

  it('keeps vLLM extras and passes them as sampling; the prompt, budget and relay-only fields stay home', () => {
    const req = parse({ top_k: 20, min_p: 0.1, temperature: 0.6, seed: 1, max_thinking_tokens: 5, n: 2, stop: 'x', echo: false, best_of: 1, add_special_tokens: true });
    expect(samplingFields(req, 'completions')).toEqual({ top_k: 20, min_p: 0.1, temperature: 0.6, seed: 1 });
  });
});
