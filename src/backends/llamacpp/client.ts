/**
 * `LlamaCppBackend`: the engine's Backend port (src/engine/backend.ts) over one llama.cpp
 * `llama-server` (tools/server/README.md). The engine is unchanged; this maps the port onto
 * llama-server's native endpoints:
 *
 * | port                 | llama-server                                                          |
 * |----------------------|-----------------------------------------------------------------------|
 * | tokenizeChat         | POST /apply-template {messages, chat_template_kwargs, tools}, then POST /tokenize {content, parse_special} |
 * | tokenize             | POST /tokenize {content, add_special: false, parse_special: true}      |
 * | streamCompletion     | POST /completion {prompt: ids, n_predict: max_tokens + 3, stream, return_tokens, cache_prompt, timings_per_token}; ids withheld inside a multi-byte character: POST /tokenize {content, with_pieces} |
 * | models / health      | GET /v1/models (+ GET /props for n_ctx) / GET /health                  |
 *
 * The chat template is the model's own (GGUF `tokenizer.chat_template`, rendered by llama-server
 * with --jinja), so the prompt is what llama-server's own chat endpoint would build. Stop ids,
 * EOS, max_tokens and usage are mapped to vLLM's semantics in completion-assembler.ts; the
 * stream's reading and its withheld ids: completion-stream.ts. The prefix cache is the
 * slot's prompt cache (`cache_prompt: true`; run llama-server with one slot per expected
 * concurrent request, `-np`).
 *
 * The HTTP plumbing (deadlines, error mapping, SSE decoding) is the vLLM backend's, shared.
 */
import { AbortedError, InvalidRequestError } from '../../errors.js';
import type {
  Backend,
  CompletionEvent,
  CompletionRequest,
  ModelInfo,
  TemplateControls,
  TokenizeChatRequest,
  TokenizeResult,
} from '../../engine/backend.js';
import { VllmModelListSchema, VllmTokenizeResponseSchema } from '../vllm/schemas.js';
import { abortable, parseOrThrow } from '../http.js';
import { HttpBackend, type HttpBackendOptions } from '../http-backend.js';
import { LlamaApplyTemplateSchema, LlamaPropsSchema, LlamaTokenPiecesSchema } from './schemas.js';
import { LLAMA_TAIL_TOKENS, llamaCompletionEvents } from './completion-stream.js';
import type { TokenPiece } from './withheld-ids.js';
import { llamaSampling } from './sampling.js';
import { llamaGrammarFields } from './grammar.js';

export type LlamaCppBackendOptions = HttpBackendOptions;

const COMPLETION = 'POST /completion';
const encoder = new TextEncoder();

export class LlamaCppBackend extends HttpBackend implements Backend {
  private nCtx: Promise<number | undefined> | null = null;

  async tokenizeChat(req: TokenizeChatRequest, signal?: AbortSignal): Promise<TokenizeResult> {
    const c = req.controls ?? {};
    refuseUnsupportedControls(c);
    const body: Record<string, unknown> = { messages: req.messages, add_generation_prompt: c.addGenerationPrompt ?? true };
    if (c.continueFinalMessage === true) body.continue_final_message = true;
    else if (req.messages[req.messages.length - 1]?.role === 'assistant') {
      // llama-server continues a final assistant message by itself (its prefill_assistant default,
      // tools/server/server-common.cpp), where vLLM would start a new turn after it: the two
      // cannot be made to agree, so the client says which it means.
      throw new InvalidRequestError(
        'llama-server continues a final assistant message: send continue_final_message: true (and add_generation_prompt: false) to prefill it.',
        { param: 'messages', code: 'invalid_value' },
      );
    }
    // Documents reach the template as a kwarg, as vLLM's chat endpoint passes them.
    const kwargs = c.documents === undefined ? req.chatTemplateKwargs : { ...req.chatTemplateKwargs, documents: c.documents };
    if (kwargs !== undefined) body.chat_template_kwargs = kwargs;
    if (req.tools !== undefined && req.tools.length > 0) body.tools = req.tools;
    const templated = parseOrThrow(
      LlamaApplyTemplateSchema,
      await this.http.callJson('POST', '/apply-template', body, signal, this.timeouts.requestMs),
      'POST /apply-template',
    );
    // parse_special: the template's <|im_start|> etc. are special tokens, as in vLLM's /tokenize.
    // add_special: as llama-server's own chat endpoint does it. Its renderer drops the template's
    // leading BOS text when the vocabulary adds one (common/chat.cpp, apply), and the prompt is
    // tokenized with add_special = true (server-context.cpp, tokenize_input_prompts): Gemma, Llama
    // and Mistral get their BOS from the tokenizer; Qwen's vocabulary adds none.
    const [ids, maxModelLen] = await Promise.all([this.tokenizeText(templated.prompt, signal, true), this.contextLength(signal)]);
    return maxModelLen === undefined ? { ids } : { ids, maxModelLen };
  }

  /** A raw prompt -> ids as llama-server's own completion endpoint tokenizes it (`add_special` = BOS). */
  async tokenizePrompt(_model: string, text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<TokenizeResult> {
    const [ids, maxModelLen] = await Promise.all([this.tokenizeText(text, signal, addSpecialTokens), this.contextLength(signal)]);
    return maxModelLen === undefined ? { ids } : { ids, maxModelLen };
  }

  /** Plain text -> ids, cached per text (LRU), like VllmBackend.tokenize. One model per server: `model` is not sent. */
  async tokenize(model: string, text: string, signal?: AbortSignal): Promise<number[]> {
    return this.cachedTokenize(model, text, () => this.tokenizeText(text, undefined), signal);
  }

  private async tokenizeText(content: string, signal: AbortSignal | undefined, addSpecial = false): Promise<number[]> {
    const json = await this.http.callJson('POST', '/tokenize', { content, add_special: addSpecial, parse_special: true }, signal, this.timeouts.requestMs);
    return parseOrThrow(VllmTokenizeResponseSchema, json, 'POST /tokenize').tokens;
  }

  /** The slot context (`/props` n_ctx), asked once; a failure is not cached and means "unknown". */
  private contextLength(signal: AbortSignal | undefined): Promise<number | undefined> {
    if (this.nCtx === null) {
      const p = this.http
        .callJson('GET', '/props', undefined, undefined, this.timeouts.requestMs)
        .then((json) => parseOrThrow(LlamaPropsSchema, json, 'GET /props').default_generation_settings?.n_ctx ?? undefined);
      p.catch(() => {
        if (this.nCtx === p) this.nCtx = null;
      });
      this.nCtx = p;
    }
    return abortable(this.nCtx, signal).catch((err: unknown) => {
      if (err instanceof AbortedError) throw err;
      return undefined;
    });
  }

  /** Per-token logprobs are refused here (streamCompletion says why). */
  readonly tokenLogprobs = false;

  /** llama-server's constraints are json_schema and GBNF grammar (grammar.ts); the rest is refused up front. */
  checkAnswerFields(fields: Readonly<Record<string, unknown>>): void {
    llamaGrammarFields(fields);
  }

  streamCompletion(req: CompletionRequest, signal: AbortSignal): AsyncGenerator<CompletionEvent, void, undefined> {
    if (req.logprobs !== undefined) {
      // llama-server's `n_probs` comes per streamed piece of text, and a piece that ends inside a
      // multi-byte character arrives without its id or probabilities: no entry per id to give.
      throw new InvalidRequestError('logprobs are not supported for models served by llama.cpp; thinkgate renders them from vLLM only.', { param: 'logprobs' });
    }
    const payload: Record<string, unknown> = {
      prompt: req.promptIds,
      // A few more than asked: a character open at max_tokens still completes, and its ids come
      // (completion-stream.ts); thinkgate hands out max_tokens ids at most and closes the request.
      n_predict: req.maxTokens + LLAMA_TAIL_TOKENS,
      stream: true,
      return_tokens: true,
      cache_prompt: true,
      timings_per_token: true,
      stop: req.stop ?? [],
    };

    return llamaCompletionEvents(
      this.streamTarget({
        server: 'llama-server',
        what: COMPLETION,
        path: '/completion',
        requestId: req.requestId,
        ...(req.headers !== undefined ? { headers: req.headers } : {}),
        // Serialized outside the transport's try: our error, never the server's (backends/http.ts).
        body: this.payloadText(req.sampling, llamaSampling, payload),
        endedEarly: 'llama-server ended the response without a final event: upstream closed the stream early.',
      }),
      { maxTokens: req.maxTokens, stopTokenIds: req.stopTokenIds ?? [], pieces: (content, s) => this.tokenPieces(content, s) },
      signal,
    );
  }

  /**
   * Each id with its piece's bytes (POST /tokenize with_pieces), for text or for ids. Text is
   * tokenized without special-token parsing: in the stream llama-server writes special tokens as
   * nothing (unless --special), so text that looks like one is plain text.
   */
  private async tokenPieces(content: string | readonly number[], signal: AbortSignal): Promise<TokenPiece[]> {
    const json = await this.http.callJson('POST', '/tokenize', { content, add_special: false, parse_special: false, with_pieces: true }, signal, this.timeouts.requestMs);
    return parseOrThrow(LlamaTokenPiecesSchema, json, 'POST /tokenize').tokens.map((t) => ({
      id: t.id,
      piece: typeof t.piece === 'string' ? encoder.encode(t.piece) : Uint8Array.from(t.piece),
    }));
  }

  async models(signal?: AbortSignal): Promise<ModelInfo[]> {
    const json = await this.http.callJson('GET', '/v1/models', undefined, signal, this.timeouts.requestMs);
    const list = parseOrThrow(VllmModelListSchema, json, 'GET /v1/models');
    const nCtx = await this.contextLength(signal);
    return list.data.map((card) => {
      const info: ModelInfo = { id: card.id };
      if (card.owned_by != null) info.ownedBy = card.owned_by;
      if (card.created != null) info.created = card.created;
      if (nCtx !== undefined) info.maxModelLen = nCtx;
      return info;
    });
  }
}

/**
 * Template controls llama-server's /apply-template does not read (server-common.cpp,
 * oaicompat_chat_params_parse): its template is fixed at start (--chat-template), and it has no
 * HF processor. Refused, never dropped.
 */
function refuseUnsupportedControls(c: TemplateControls): void {
  const unsupported: Array<[keyof TemplateControls, string]> = [
    ['chatTemplate', 'chat_template'],
    ['mediaIoKwargs', 'media_io_kwargs'],
    ['mmProcessorKwargs', 'mm_processor_kwargs'],
  ];
  for (const [key, param] of unsupported) {
    if (c[key] !== undefined) {
      throw new InvalidRequestError(`llama-server does not support \`${param}\` per request.`, { param, code: 'unsupported_parameter' });
    }
  }
}
