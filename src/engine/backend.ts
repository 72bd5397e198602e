/**
 * The port through which the engine drives an inference server. The engine sees nothing
 * else of the outside world: no HTTP, no logs, no metrics. `src/vllm/` implements it over
 * vLLM's OpenAI server (vLLM >= 0.10: /tokenize, streaming /v1/completions with
 * `return_token_ids`); tests implement it with a scripted fake.
 *
 * A Backend value is bound to ONE replica: the engine runs every segment of a request on
 * the backend it was given, so continuations hit that replica's prefix cache (docs/budget-forcing.md).
 */

export interface ChatMessageLike {
  role: string;
  content?: unknown;
  [k: string]: unknown;
}

export interface TokenizeChatRequest {
  model: string;
  messages: ChatMessageLike[];
  /** Passed to the backend's chat template (e.g. Qwen3's `enable_thinking`). */
  chatTemplateKwargs?: Record<string, unknown>;
  /** Tool definitions, rendered by the chat template when present. */
  tools?: unknown[];
  /** The client's template controls (src/openai/template-controls.ts); each only when sent. */
  controls?: TemplateControls;
}

/**
 * vLLM's chat-template request fields (TokenizeChatRequest / ChatCompletionRequest). A backend
 * that cannot honour one throws InvalidRequestError naming it (docs/upstream-protocol.md).
 */
export interface TemplateControls {
  /** Default true. */
  addGenerationPrompt?: boolean;
  /** Leave the final (assistant) message open: a prefill the model continues. */
  continueFinalMessage?: boolean;
  /** A Jinja template replacing the model's own. */
  chatTemplate?: string;
  /** RAG documents, visible to templates that render them. */
  documents?: Array<Record<string, string>>;
  mediaIoKwargs?: Record<string, Record<string, unknown>>;
  mmProcessorKwargs?: Record<string, unknown>;
}

export interface TokenizeResult {
  ids: number[];
  /** The model's context length, when the backend reports it (vLLM does in /tokenize). */
  maxModelLen?: number;
}

export interface CompletionRequest {
  model: string;
  /** The whole prompt as the backend's own token ids (docs/budget-forcing.md: never re-tokenized). */
  promptIds: number[];
  maxTokens: number;
  /** Token ids that end generation; the id is in `tokenIds` but not in `text` (vLLM semantics). */
  stopTokenIds?: number[];
  /** Stop strings, only ever for answer-only segments (docs/budget-forcing.md). */
  stop?: string[];
  /** The client's sampling fields and vLLM extras (temperature, top_p, seed, top_k, ...), passed as is. */
  sampling: Record<string, unknown>;
  /** A unique id for this upstream call (the request id plus the segment number). */
  requestId?: string;
  /**
   * Extra HTTP headers for this call, set outside the engine (the W3C `traceparent` of its span,
   * src/tracing/request-trace.ts); a backend over HTTP sends them, the protocol's own win.
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * Per-token logprobs with this many alternatives (0..20: chat's `top_logprobs`); absent = none.
   * Every delta then carries `logprobs` aligned with its `tokenIds`.
   */
  logprobs?: number;
  /**
   * The backend may merge consecutive deltas that arrived in one read into one delta of at most
   * this many ids (backends/coalesce.ts; what vLLM's `--stream-interval` does). Absent or 1: a
   * delta per upstream event. The engine leaves it off where a delta's ids past a stop string
   * would count (docs/budget-forcing.md, "Chunks").
   */
  coalesceTokens?: number;
}

/** One alternative at a position: a token as the server shows it and its logprob. */
export interface TopLogprob {
  token: string;
  logprob: number;
}

/**
 * The logprob of one generated id, as vLLM computed it (`Logprob.decoded_token`, `logprob`), with
 * the alternatives in vLLM's order: the sampled token first, then the others by rank, at most
 * the `logprobs` asked for (vllm/entrypoints/openai/chat_completion/serving.py, _get_top_logprobs).
 */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top: readonly TopLogprob[];
}

export type FinishReason = 'stop' | 'length' | 'abort';

/** One streamed piece of a completion. */
export interface CompletionDelta {
  kind: 'delta';
  /** Detokenized text of this delta (may lag `tokenIds` across multibyte characters). */
  text: string;
  tokenIds: number[];
  finishReason: FinishReason | null;
  /** vLLM's stop_reason: the stop token id or stop string that ended it; null for EOS or length. */
  stopReason: number | string | null;
  /** One entry per id of `tokenIds`, in order, when the request asked for logprobs. */
  logprobs?: readonly TokenLogprob[];
}

export interface CompletionUsage {
  kind: 'usage';
  promptTokens: number;
  completionTokens: number;
  /** vLLM's `prompt_tokens_details.cached_tokens` (with --enable-prompt-tokens-details). */
  cachedTokens?: number;
}

export type CompletionEvent = CompletionDelta | CompletionUsage;

export interface ModelInfo {
  id: string;
  ownedBy?: string;
  created?: number;
  maxModelLen?: number;
  root?: string;
}

/**
 * The first segment of a chat request through the server's own chat endpoint (issue 14, item 6):
 * the server renders the template and starts generating at once, and sends the rendered prompt's
 * ids on its first chunk, so thinkgate needs no /tokenize round trip before the first token.
 * Only for a template that opens thinking itself (runs/chat-first-segment.ts decides).
 */
export interface ChatSegmentRequest {
  model: string;
  chat: TokenizeChatRequest;
  /** Absent: the server's default (the rest of the context, as the engine's context bound). */
  maxTokens?: number;
  stopTokenIds?: number[];
  sampling: Record<string, unknown>;
  requestId?: string;
  headers?: Readonly<Record<string, string>>;
  coalesceTokens?: number;
  /** The profile's end delimiter (ids and text): a reasoning parser may drop its text (see the reader). */
  end: { ids: readonly number[]; text: string };
}

/** A chat segment whose prompt ids arrived: `events` is the rest of the stream, as streamCompletion's. */
export interface OpenedChatSegment {
  promptIds: number[];
  events: AsyncGenerator<CompletionEvent, void, undefined>;
}

/**
 * A chat prompt rendered with its media (docs/multimodal.md): the ids the model sees, image
 * placeholders expanded, and what carries the media to every later segment. Opaque outside the
 * backend that rendered it; only that backend's `streamWithMedia` reads `media`.
 */
export interface RenderedChat {
  ids: number[];
  maxModelLen?: number;
  media: MediaPrompt;
}

export interface MediaPrompt {
  /** Media items (images, audio, video) the prompt carries. */
  readonly items: number;
  /** What each segment sends upstream on top of a text segment (the serialized features). */
  readonly bytes: number;
}

export interface Backend {
  /** A stable, bounded label for this replica (its base URL), for metrics and logs. */
  readonly name: string;
  tokenizeChat(req: TokenizeChatRequest, signal?: AbortSignal): Promise<TokenizeResult>;
  /**
   * A raw /v1/completions prompt -> ids, tokenized the way the server's own /v1/completions
   * would (vLLM's `add_special_tokens` defaults to true there: a BOS where the tokenizer adds
   * one), with the context length when reported. Not cached: prompts rarely repeat.
   */
  tokenizePrompt(model: string, text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<TokenizeResult>;
  /** Plain text -> ids with add_special_tokens: false (delimiters, phrases). */
  tokenize(model: string, text: string, signal?: AbortSignal): Promise<number[]>;
  /**
   * Streams one completion. Ends after the chunk with a finishReason and the trailing
   * usage event. Aborting `signal` closes the upstream request (and its socket).
   * Throws ThinkgateError subclasses (UpstreamError, UpstreamTimeoutError, ...).
   */
  streamCompletion(req: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionEvent>;
  /**
   * Throws InvalidRequestError naming the field when this server cannot honour one of the
   * answer-only fields (EngineInput.answerSampling, e.g. a regex constraint on llama-server).
   * Called before anything is generated: the answer segment comes after the thinking was spent.
   */
  checkAnswerFields?(fields: Readonly<Record<string, unknown>>): void;
  /**
   * Starts a chat segment (ChatSegmentRequest) and resolves once its prompt ids arrived; absent:
   * the server has no such endpoint thinkgate can use (llama.cpp). Aborting `signal`, or
   * returning from `events`, closes the upstream request.
   */
  openChatSegment?(req: ChatSegmentRequest, signal: AbortSignal): Promise<OpenedChatSegment>;
  /**
   * Renders a chat whose messages carry media (images, audio, video) once, with the media
   * processed (docs/multimodal.md). Absent, or resolving to undefined (the server does not expose
   * rendering): this server cannot generate from media thinkgate can budget (llama.cpp, a vLLM
   * without --enable-scale-out), and such a request is refused naming the part.
   */
  renderChat?(req: TokenizeChatRequest, signal?: AbortSignal): Promise<RenderedChat | undefined>;
  /**
   * streamCompletion for a prompt that starts with a rendered chat's ids (renderChat): the same
   * events, the media travelling with the ids, so every segment stays token-exact.
   */
  streamWithMedia?(req: CompletionRequest, media: MediaPrompt, signal: AbortSignal): AsyncIterable<CompletionEvent>;
  /** False: this server gives no per-token logprobs thinkgate can use (llama.cpp); absent: it does. */
  readonly tokenLogprobs?: boolean;
  models(signal?: AbortSignal): Promise<ModelInfo[]>;
  health(signal?: AbortSignal): Promise<boolean>;
}
