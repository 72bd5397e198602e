/**
 * Multimodal segments over vLLM's scale-out endpoints (docs/multimodal.md; vLLM 0.32,
 * vllm/entrypoints/scale_out/, served with `--enable-scale-out`):
 *
 * - POST /v1/chat/completions/render renders the chat once, media processed: the prompt's ids
 *   with every placeholder expanded (what the model sees), and `features` (each item's hash, its
 *   placeholder range and its processed tensors, base64: MultiModalFeatures in
 *   token_in_token_out/protocol.py).
 * - Every segment is then POST /inference/v1/generate with ids (the rendered prompt plus every
 *   id generated or inserted since) and those features: token-exact, as a /v1/completions
 *   segment is, with the media in it. The placeholder ranges stay valid because segments only
 *   ever append to the rendered prompt.
 * - A segment's sampling is vLLM's own SamplingParams for its fields, from
 *   POST /v1/completions/render (CompletionRequest.to_sampling_params: response_format,
 *   logit_bias, vllm_xargs, the model's generation_config defaults all as /v1/completions would
 *   apply them), asked once per request and kind of segment.
 */
import { z } from 'zod';
import type { CompletionRequest, MediaPrompt } from '../../engine/backend.js';

const ids = z.array(z.number().int().nonnegative());

/** The GenerateRequest /v1/chat/completions/render answers: only what thinkgate reads is checked. */
export const RenderedChatSchema = z
  .object({
    token_ids: ids.min(1),
    features: z
      .object({ mm_hashes: z.record(z.string(), z.array(z.string())), mm_placeholders: z.record(z.string(), z.array(z.unknown())) })
      .loose()
      .nullish(),
  })
  .loose();

/** /v1/completions/render: one GenerateRequest per prompt. */
export const RenderedCompletionsSchema = z
  .array(
    z
      .object({
        sampling_params: z.record(z.string(), z.unknown()),
        cache_salt: z.string().nullish(),
        priority: z.number().int().nullish(),
      })
      .loose(),
  )
  .min(1);

/** What a generate call sends besides the ids and features. */
export interface SegmentParams {
  /** vLLM's serialized SamplingParams, max_tokens left to each segment. */
  samplingParams: Record<string, unknown>;
  cacheSalt?: string;
  priority?: number;
}

export class VllmMediaPrompt implements MediaPrompt {
  readonly bytes: number;
  /**
   * Per sampling object (every segment of a kind shares one: the engine passes it through), per
   * stop and logprobs setting: the request's segment params. Held weakly: they go with the run.
   */
  private readonly params = new WeakMap<object, Map<string, Promise<SegmentParams>>>();

  constructor(
    /** The render's `features`, serialized once: every segment sends it as is. */
    readonly featuresText: string,
    readonly items: number,
  ) {
    this.bytes = Buffer.byteLength(featuresText);
  }

  /** The cached params of `req`'s kind of segment, or `load`'s (a failed load is asked again). */
  paramsFor(req: CompletionRequest, load: () => Promise<SegmentParams>): Promise<SegmentParams> {
    let byKey = this.params.get(req.sampling);
    if (byKey === undefined) this.params.set(req.sampling, (byKey = new Map()));
    const key = JSON.stringify([req.stop ?? [], req.stopTokenIds ?? [], req.logprobs ?? null]);
    let p = byKey.get(key);
    if (p === undefined) {
      p = load();
      const mine = p;
      p.catch(() => {
        if (byKey.get(key) === mine) byKey.delete(key);
      });
      byKey.set(key, p);
    }
    return p;
  }
}

/** Media items in rendered features (each modality's hashes). */
export function mediaItems(features: { mm_hashes: Record<string, string[]> }): number {
  let n = 0;
  for (const hashes of Object.values(features.mm_hashes)) n += hashes.length;
  return n;
}

/**
 * The protocol fields of a segment's /v1/completions/render call: what makes its SamplingParams
 * those of a token-exact segment (as VllmBackend.streamCompletion sends them). max_tokens is a
 * placeholder: each generate call sets its own.
 */
export function renderProtocolFields(req: CompletionRequest): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    model: req.model,
    // Any valid id: only the sampling part of the answer is read.
    prompt: [req.promptIds[0] ?? 0],
    max_tokens: 1,
    stream: false,
    skip_special_tokens: false,
    n: 1,
    echo: false,
    stop_token_ids: req.stopTokenIds ?? [],
    stop: req.stop ?? [],
  };
  if (req.logprobs !== undefined) fields.logprobs = req.logprobs;
  return fields;
}

/** A segment's /inference/v1/generate body, the features spliced in as rendered. */
export function generateBody(req: CompletionRequest, media: VllmMediaPrompt, params: SegmentParams): string {
  const own: Record<string, unknown> = {
    model: req.model,
    ...(req.requestId === undefined ? {} : { request_id: req.requestId }),
    sampling_params: { ...params.samplingParams, max_tokens: req.maxTokens, n: 1, detokenize: true },
    stream: true,
    stream_options: { include_usage: true },
    // Text as well as ids: the engine's deltas carry both (CompletionDelta).
    output_mode: 'text',
    ...(params.cacheSalt === undefined ? {} : { cache_salt: params.cacheSalt }),
    ...(params.priority === undefined ? {} : { priority: params.priority }),
  };
  return `{"token_ids":${JSON.stringify(req.promptIds)},"features":${media.featuresText},${JSON.stringify(own).slice(1)}`;
}
