/**
 * `VllmBackend`: the engine's Backend port (src/engine/backend.ts) over one vLLM replica's
 * OpenAI server, using only the subset of docs/upstream-protocol.md (so any vLLM >= 0.10.2 works
 * unmodified): GET /v1/models, GET /health, POST /tokenize, streaming POST /v1/completions
 * with token-id prompts and `return_token_ids`.
 *
 * Field names follow vLLM's protocol (vllm/entrypoints/openai/completion/protocol.py:
 * CompletionRequest, CompletionStreamResponse; serving_tokenization.py: TokenizeRequest).
 */
import type {
  Backend,
  ChatSegmentRequest,
  OpenedChatSegment,
  CompletionEvent,
  CompletionRequest,
  MediaPrompt,
  ModelInfo,
  RenderedChat,
  TokenizeChatRequest,
  TokenizeResult,
} from '../../engine/backend.js';
import { VllmModelListSchema, VllmTokenizeResponseSchema, type VllmCompletionRequestBody } from './schemas.js';
import { streamCompletionEvents } from '../stream-completion.js';
import { CompletionChunkReader } from './chunk-reader.js';
import { coalesceDeltas } from '../coalesce.js';
import { ChatChunkReader, type ChatSegmentEvent } from './chat-chunk-reader.js';
import { UpstreamError } from '../../errors.js';
import { RenderedChatSchema, RenderedCompletionsSchema, VllmMediaPrompt, generateBody, mediaItems, renderProtocolFields, type SegmentParams } from './media.js';

import { abortable, parseOrThrow } from '../http.js';
import { mapIterator } from '../../util/map-iterator.js';
import { HttpBackend, type HttpBackendOptions, type HttpBackendTimeouts } from '../http-backend.js';

/** Kept as names of their own: callers and tests of the vLLM client import them. */
export type VllmTimeouts = HttpBackendTimeouts;
export type VllmBackendOptions = HttpBackendOptions;

const COMPLETIONS = 'POST /v1/completions';
const CHAT = 'POST /v1/chat/completions';
const RENDER = 'POST /v1/chat/completions/render';
const GENERATE = 'POST /inference/v1/generate';

function isCompletionEvent(e: ChatSegmentEvent): e is CompletionEvent {
  return e.kind !== 'prompt';
}

/**
 * The chat stream after its prompt event: only what /v1/completions would stream. The reader sends
 * the prompt event once, first (chat-chunk-reader.ts), and openChatSegment took it. No generator
 * layer of its own: this sits on every token's path (util/map-iterator.ts).
 */
function completionEvents(stream: AsyncGenerator<ChatSegmentEvent, void, undefined>): AsyncGenerator<CompletionEvent, void, undefined> {
  return mapIterator(stream, (e) => {
    if (!isCompletionEvent(e)) throw new UpstreamError('vLLM sent the prompt ids twice in one chat stream.');
    return e;
  });
}

/** `version` (vLLM's GET /version: "0.32.0", "0.13.0rc1", "0.11.1.dev5+g...") is at least `min`. */
export function atLeast(version: unknown, min: readonly number[]): boolean {
  if (typeof version !== 'string') return false;
  const parts = /^(\d+)\.(\d+)/.exec(version);
  if (parts === null) return false;
  const [maj, minor] = [Number(parts[1]), Number(parts[2])];
  return maj > min[0]! || (maj === min[0]! && minor >= min[1]!);
}

/**
 * The chat-template fields of a /tokenize or render call (vLLM's TokenizeChatRequest and
 * ChatCompletionRequest share them).
 */
function templateFields(req: TokenizeChatRequest): Record<string, unknown> {
  const c = req.controls ?? {};
  const body: Record<string, unknown> = {
    model: req.model,
    messages: req.messages,
    add_generation_prompt: c.addGenerationPrompt ?? true,
  };
  if (c.continueFinalMessage === true) body.continue_final_message = true;
  // TokenizeChatRequest has no `documents`: the chat endpoint hands them to the template as a
  // kwarg over chat_template_kwargs (ChatCompletionRequest.build_chat_params, merge_kwargs), so
  // they travel the same way here and render the same prompt.
  const kwargs = c.documents === undefined ? req.chatTemplateKwargs : { ...req.chatTemplateKwargs, documents: c.documents };
  if (kwargs !== undefined) body.chat_template_kwargs = kwargs;
  if (c.chatTemplate !== undefined) body.chat_template = c.chatTemplate;
  if (c.mediaIoKwargs !== undefined) body.media_io_kwargs = c.mediaIoKwargs;
  if (c.mmProcessorKwargs !== undefined) body.mm_processor_kwargs = c.mmProcessorKwargs;
  if (req.tools !== undefined && req.tools.length > 0) body.tools = req.tools;
  return body;
}

export class VllmBackend extends HttpBackend implements Backend {
  async tokenizeChat(req: TokenizeChatRequest, signal?: AbortSignal): Promise<TokenizeResult> {
    return this.tokenizeWithLength(templateFields(req), signal);
  }

  /**
   * A chat with media, rendered once by vLLM (media.ts): its ids and the features every segment
   * then carries (streamWithMedia). Undefined when this vLLM does not serve the route (started
   * without --enable-scale-out, or older): the request cannot be served with its media.
   */
  async renderChat(req: TokenizeChatRequest, signal?: AbortSignal): Promise<RenderedChat | undefined> {
    let json: unknown;
    try {
      json = await this.http.callJson('POST', '/v1/chat/completions/render', templateFields(req), signal, this.timeouts.requestMs);
    } catch (err) {
      // An older vLLM has no such route (404); vLLM 0.32 without --enable-scale-out answers 403
      // "Scale-out endpoints are disabled" (vllm/entrypoints/scale_out/factories.py).
      if (err instanceof UpstreamError && (err.upstreamStatus === 404 || (err.upstreamStatus === 403 && /scale-out/i.test(err.upstreamDetail ?? '')))) return undefined;
      throw err;
    }
    const res = parseOrThrow(RenderedChatSchema, json, RENDER);
    if (res.features == null) throw new UpstreamError(`vLLM answered ${RENDER} without the media's features.`);
    return { ids: res.token_ids, media: new VllmMediaPrompt(JSON.stringify(res.features), mediaItems(res.features)) };
  }

  /**
   * One segment of a media prompt (media.ts): POST /inference/v1/generate with the ids and the
   * rendered features, streamed like /v1/completions (the same chunk shape, read by the same
   * reader), with vLLM's SamplingParams for the segment's fields from /v1/completions/render.
   */
  async *streamWithMedia(req: CompletionRequest, media: MediaPrompt, signal: AbortSignal): AsyncGenerator<CompletionEvent, void, undefined> {
    if (!(media instanceof VllmMediaPrompt)) throw new UpstreamError('A media prompt rendered by another server reached this vLLM.');
    const params = await abortable(
      media.paramsFor(req, () => this.segmentParams(req)),
      signal,
    );
    const coalesce = req.coalesceTokens !== undefined && req.coalesceTokens > 1 ? req.coalesceTokens : undefined;
    yield* streamCompletionEvents(
      this.streamTarget({
        server: 'vLLM',
        what: GENERATE,
        path: '/inference/v1/generate',
        requestId: req.requestId,
        ...(req.headers !== undefined ? { headers: req.headers } : {}),
        body: generateBody(req, media, params),
        endedEarly: 'vLLM ended the response without a finish_reason or [DONE]: upstream closed the stream early.',
      }),
      // Text mode sends chat-shaped logprobs (logprobs.ts).
      new CompletionChunkReader(req.logprobs === undefined ? {} : { logprobs: req.logprobs, logprobsShape: 'chat' }),
      signal,
      coalesce === undefined ? undefined : (events) => coalesceDeltas(events, coalesce),
    );
  }

  /** vLLM's SamplingParams for `req`'s fields (media.ts): what /v1/completions would generate with. */
  private async segmentParams(req: CompletionRequest): Promise<SegmentParams> {
    const body = this.payloadText(req.sampling, (s) => ({ ...s }), renderProtocolFields(req));
    const json = await this.http.callJson('POST', '/v1/completions/render', JSON.parse(body), undefined, this.timeouts.requestMs);
    const [first] = parseOrThrow(RenderedCompletionsSchema, json, 'POST /v1/completions/render');
    return {
      samplingParams: first!.sampling_params,
      ...(first!.cache_salt == null ? {} : { cacheSalt: first!.cache_salt }),
      ...(first!.priority == null ? {} : { priority: first!.priority }),
    };
  }

  async tokenizePrompt(model: string, text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<TokenizeResult> {
    return this.tokenizeWithLength({ model, prompt: text, add_special_tokens: addSpecialTokens }, signal);
  }

  /** POST /tokenize -> ids and the context length vLLM reports beside them. */
  private async tokenizeWithLength(body: Record<string, unknown>, signal: AbortSignal | undefined): Promise<TokenizeResult> {
    const json = await this.http.callJson('POST', '/tokenize', body, signal, this.timeouts.requestMs);
    const res = parseOrThrow(VllmTokenizeResponseSchema, json, 'POST /tokenize');
    return res.max_model_len == null ? { ids: res.tokens } : { ids: res.tokens, maxModelLen: res.max_model_len };
  }

  /**
   * Plain text -> ids (add_special_tokens: false), cached per (model, text) with LRU
   * eviction: delimiters and phrases are asked for once (docs/upstream-protocol.md). Concurrent callers share
   * one request, which therefore runs under `requestMs` only; `signal` ends this caller's
   * wait, not the shared request. A failed lookup is not cached.
   */
  async tokenize(model: string, text: string, signal?: AbortSignal): Promise<number[]> {
    const load = (): Promise<number[]> =>
      this.http
        .callJson('POST', '/tokenize', { model, prompt: text, add_special_tokens: false }, undefined, this.timeouts.requestMs)
        .then((json) => parseOrThrow(VllmTokenizeResponseSchema, json, 'POST /tokenize').tokens);
    return this.cachedTokenize(model, text, load, signal);
  }

  /**
   * One streamed completion. Sends the whole prompt as token ids, always `stream: true`, and
   * yields a CompletionDelta per choice chunk and one CompletionUsage (the trailing
   * `choices: []` chunk). Ends at `[DONE]`. Breaking out of the loop, or aborting `signal`,
   * closes the upstream socket so that vLLM aborts the generation.
   */
  streamCompletion(req: CompletionRequest, signal: AbortSignal): AsyncGenerator<CompletionEvent, void, undefined> {
    // The protocol fields: payloadText puts the sampling fields first and drops any of these
    // from them, so a client field can never override one.
    // n and echo are pinned: the engine follows exactly one sequence and counts only its tokens.
    const payload: VllmCompletionRequestBody = {
      model: req.model,
      prompt: req.promptIds,
      max_tokens: req.maxTokens,
      stream: true,
      // The trailing usage only: a running usage on every chunk (continuous_usage_stats) repeats
      // what the ids already count and costs vLLM and us per token (docs/upstream-protocol.md).
      stream_options: { include_usage: true },
      return_token_ids: true,
      skip_special_tokens: false,
      n: 1,
      echo: false,
      stop_token_ids: req.stopTokenIds ?? [],
      stop: req.stop ?? [],
    };
    // Chat's top_logprobs as completions' `logprobs: k` (k alternatives besides the sampled token).
    if (req.logprobs !== undefined) payload.logprobs = req.logprobs;
    const coalesce = req.coalesceTokens !== undefined && req.coalesceTokens > 1 ? req.coalesceTokens : undefined;

    return streamCompletionEvents(
      this.streamTarget({
        server: 'vLLM',
        what: COMPLETIONS,
        path: '/v1/completions',
        requestId: req.requestId,
        ...(req.headers !== undefined ? { headers: req.headers } : {}),
        // Sampling first, serialized once per request (payloadText); the protocol fields win.
        body: this.payloadText(req.sampling, (s) => ({ ...s }), payload),
        endedEarly: 'vLLM ended the response without a finish_reason or [DONE]: upstream closed the stream early.',
      }),
      new CompletionChunkReader(req.logprobs === undefined ? {} : { logprobs: req.logprobs }),
      signal,
      // One read's deltas as fewer, larger ones, when the engine allows it (backends/coalesce.ts).
      coalesce === undefined ? undefined : (events) => coalesceDeltas(events, coalesce),
    );
  }

  /**
   * The first segment through /v1/chat/completions (Backend.openChatSegment): the same template
   * fields /tokenize gets (tokenizeChat), the same protocol fields as a /v1/completions segment,
   * and `return_token_ids`, so the first chunk carries the rendered prompt's ids. Resolves with
   * them and the rest of the stream; a failure before them rejects (the caller falls back to
   * /tokenize). Needs vLLM >= 0.13 (see chat-chunk-reader.ts): an older server is refused here.
   */
  async openChatSegment(req: ChatSegmentRequest, signal: AbortSignal): Promise<OpenedChatSegment> {
    if (!(await this.chatIdsComplete(signal))) throw new UpstreamError('This vLLM is older than 0.13: its chat stream can lose token ids.');
    const payload: Record<string, unknown> = {
      ...templateFields(req.chat),
      model: req.model,
      stream: true,
      stream_options: { include_usage: true },
      return_token_ids: true,
      skip_special_tokens: false,
      // The thinking must stream with its ids: vLLM hides both with include_reasoning false.
      include_reasoning: true,
      n: 1,
      stop_token_ids: req.stopTokenIds ?? [],
    };
    if (req.maxTokens !== undefined) payload.max_tokens = req.maxTokens;
    const coalesce = req.coalesceTokens !== undefined && req.coalesceTokens > 1 ? req.coalesceTokens : undefined;
    const stream = streamCompletionEvents<ChatSegmentEvent>(
      this.streamTarget({
        server: 'vLLM',
        what: CHAT,
        path: '/v1/chat/completions',
        ...(req.requestId === undefined ? {} : { requestId: req.requestId }),
        ...(req.headers === undefined ? {} : { headers: req.headers }),
        body: this.payloadText(req.sampling, (s) => ({ ...s }), payload),
        endedEarly: 'vLLM ended the response without a finish_reason or [DONE]: upstream closed the stream early.',
      }),
      new ChatChunkReader(req.end),
      signal,
      coalesce === undefined ? undefined : (events) => coalesceDeltas(events, coalesce),
    );
    const first = await stream.next();
    if (first.done || first.value.kind !== 'prompt') {
      await stream.return();
      throw new UpstreamError('vLLM sent no prompt ids before the chat stream ended.');
    }
    return { promptIds: first.value.promptIds, events: completionEvents(stream) };
  }

  /** GET /version once: vLLM >= 0.13 streams every chat step's ids (chat-chunk-reader.ts). A failed probe is asked again later. */
  private versionOk: Promise<boolean> | undefined;
  private chatIdsComplete(signal: AbortSignal): Promise<boolean> {
    if (this.versionOk === undefined) {
      const p = this.http
        .callJson('GET', '/version', undefined, undefined, this.timeouts.requestMs)
        .then((json) => atLeast((json as { version?: unknown } | null)?.version, [0, 13]));
      p.catch(() => {
        if (this.versionOk === p) this.versionOk = undefined;
      });
      this.versionOk = p;
    }
    return abortable(this.versionOk, signal);
  }

  async models(signal?: AbortSignal): Promise<ModelInfo[]> {
    const json = await this.http.callJson('GET', '/v1/models', undefined, signal, this.timeouts.requestMs);
    const list = parseOrThrow(VllmModelListSchema, json, 'GET /v1/models');
    return list.data.map((card) => {
      const info: ModelInfo = { id: card.id };
      if (card.owned_by != null) info.ownedBy = card.owned_by;
      if (card.created != null) info.created = card.created;
      if (card.max_model_len != null) info.maxModelLen = card.max_model_len;
      if (card.root != null) info.root = card.root;
      return info;
    });
  }
}

