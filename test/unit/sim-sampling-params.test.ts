/**
 * The simulator's SamplingParams mapping (src/sim/sampling-params.ts): a request's sampling
 * fields -> vLLM's serialized SamplingParams (vllm/sampling_params.py, as the scale-out render
 * routes put it in a GenerateRequest), and back to the fields its completions generator reads.
 */
import { describe, expect, it } from 'vitest';
import { paramsFromRequest } from '../../src/sim/generation.js';
import { fromSamplingParams, samplingParamsSchema, structuredFromResponseFormat, toSamplingParams } from '../../src/sim/sampling-params.js';

describe('toSamplingParams', () => {
  it("fills vLLM's defaults for what the request leaves out", () => {
    expect(toSamplingParams({}, 100, null)).toEqual({
      n: 1,
      temperature: 1,
      top_p: 1,
      top_k: 0,
      min_p: 0,
      seed: null,
      stop: [],
      stop_token_ids: [],
      max_tokens: 100,
      min_tokens: 0,
      logprobs: null,
      presence_penalty: 0,
      frequency_penalty: 0,
      repetition_penalty: 1,
      ignore_eos: false,
      skip_special_tokens: true,
      spaces_between_special_tokens: true,
      include_stop_str_in_output: false,
      logit_bias: null,
      allowed_token_ids: null,
      bad_words: [],
      structured_outputs: null,
      detokenize: true,
      extra_args: null,
    });
  });

  it('maps the fields given, a single stop string as a list, vllm_xargs as extra_args', () => {
    const sp = toSamplingParams(
      { temperature: 0.6, top_p: 0.9, top_k: 20, seed: 7, stop: 'END', stop_token_ids: [4], min_tokens: 2, logit_bias: { '270': -100 }, skip_special_tokens: false, vllm_xargs: { a: 1 } },
      50,
      3,
    );
    expect(sp).toMatchObject({ temperature: 0.6, top_p: 0.9, top_k: 20, seed: 7, stop: ['END'], stop_token_ids: [4], min_tokens: 2, max_tokens: 50, logprobs: 3 });
    expect(sp).toMatchObject({ logit_bias: { '270': -100 }, skip_special_tokens: false, extra_args: { a: 1 } });
  });

  it('folds response_format into structured_outputs; structured_outputs passes through', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] };
    expect(toSamplingParams({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } }, 1, null).structured_outputs).toEqual({ json: schema });
    expect(toSamplingParams({ response_format: { type: 'json_object' } }, 1, null).structured_outputs).toEqual({ json_object: true });
    expect(toSamplingParams({ response_format: { type: 'text' } }, 1, null).structured_outputs).toBeNull();
    expect(toSamplingParams({ structured_outputs: { choice: ['a', 'b'] } }, 1, null).structured_outputs).toEqual({ choice: ['a', 'b'] });
    expect(structuredFromResponseFormat(undefined)).toBeNull();
  });
});

describe('fromSamplingParams', () => {
  it('gives the completions generator the same parameters as the request they came from', () => {
    const req = { max_tokens: 40, min_tokens: 3, stop: ['x'], stop_token_ids: [9], ignore_eos: true, skip_special_tokens: false, include_stop_str_in_output: true, logit_bias: { '5': -100 } };
    const back = fromSamplingParams(samplingParamsSchema.parse(toSamplingParams(req, 40, null)));
    expect(paramsFromRequest(back, 10, null, 8192)).toEqual(paramsFromRequest(req, 10, 16, 8192));
    expect(back).toMatchObject({ temperature: 1, seed: null, n: 1 });
  });

  it('leaves an absent max_tokens absent: the context left', () => {
    const back = fromSamplingParams({});
    expect(back.max_tokens).toBeUndefined();
    expect(paramsFromRequest(back, 100, null, 8192).maxTokens).toBe(8092);
  });

  it("refuses what SamplingParams' checks refuse", () => {
    for (const bad of [{ n: 0 }, { temperature: -1 }, { top_p: 0 }, { top_k: -2 }, { max_tokens: 0 }, { min_p: 2 }, { stop: 3 }]) {
      expect(samplingParamsSchema.safeParse(bad).success).toBe(false);
    }
    expect(samplingParamsSchema.safeParse({ output_kind: 0, prompt_logprobs: null }).success).toBe(true);
  });
});
