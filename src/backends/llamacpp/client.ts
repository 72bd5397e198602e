/**
 * `LlamaCppBackend`: the engine's Backend port (src/engine/backend.ts) over one llama.cpp
 * `llama-server` (tools/server/README.md). The engine is unchanged; this maps the port onto
 * llama-server's native endpoints:
 *
 * | port                 | llama-server                                                          |
 * |----------------------|-----------------------------------------------------------------------|
 * | tokenizeChat         | POST /apply-template {messages, chat_template_kwargs, tools}, then POST /tokenize {content, parse_special} |
 * | tokenize             | POST /tokenize {content, add_special: false, parse_special: true}      |
 * | streamCompletion     | POST /completion {prompt: ids, n_predict, stream, return_tokens, cache_prompt, timings_per_token} |
 * | models / health      | GET /v1/models (+ GET /props for n_ctx) / GET /health                  |
 *
 * The chat template is the model's own (GGUF `tokenizer.chat_template`, rendered by llama-server
 * with --jinja), so the prompt is what llama-server's own chat endpoint would build. Stop ids,
 * EOS and usage are mapped to vLLM's semantics in chunk-reader.ts. The prefix cache is the
 * slot's prompt cache (`cache_prompt: true`; run llama-server with one slot per expected
 * concurrent request, `-np`).
 *
 * The HTTP plumbing (deadlines, error mapping, SSE decoding) is the vLLM backend's, shared.
 */
import type { Dispatcher } from 'undici';
import { AbortedError, ThinkgateError, UpstreamError, UpstreamTimeoutError } from '../../errors.js';
import type { Backend, CompletionEvent, CompletionRequest, ModelInfo, TokenizeChatRequest, TokenizeResult } from '../../engine/backend.js';
import { VllmModelListSchema, VllmTokenizeResponseSchema } from '../vllm/schemas.js';
import { SseDecoder } from '../sse.js';
import { StreamWatchdog } from '../stream-watchdog.js';
import { mapTransportError, mapUpstreamStatus } from '../upstream-errors.js';
import { abortable, parseOrThrow, readLimited } from '../http.js';
import { HttpBackend, type HttpBackendOptions } from '../http-backend.js';
import { LlamaChunkReader } from './chunk-reader.js';
import { LlamaApplyTemplateSchema, LlamaPropsSchema } from './schemas.js';
import { llamaSampling } from './sampling.js';

export type LlamaCppBackendOptions = HttpBackendOptions;

const COMPLETION = 'POST /completion';

export class LlamaCppBackend extends HttpBackend implements Backend {
  private nCtx: Promise<number | undefined> | null = null;

  async tokenizeChat(req: TokenizeChatRequest, signal?: AbortSignal): Promise<TokenizeResult> {
    const body: Record<string, unknown> = { messages: req.messages, add_generation_prompt: true };
    if (req.chatTemplateKwargs !== undefined) body.chat_template_kwargs = req.chatTemplateKwargs;
    if (req.tools !== undefined && req.tools.length > 0) body.tools = req.tools;
    const templated = parseOrThrow(
      LlamaApplyTemplateSchema,
      await this.http.callJson('POST', '/apply-template', body, signal, this.timeouts.requestMs),
      'POST /apply-template',
    );
    // parse_special: the template's <|im_start|> etc. are special tokens, as in vLLM's /tokenize.
    const [ids, maxModelLen] = await Promise.all([this.tokenizeText(templated.prompt, signal), this.contextLength(signal)]);
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

  async *streamCompletion(req: CompletionRequest, signal: AbortSignal): AsyncGenerator<CompletionEvent, void, undefined> {
    if (signal.aborted) throw new AbortedError();
    const payload: Record<string, unknown> = {
      prompt: req.promptIds,
      n_predict: req.maxTokens,
      stream: true,
      return_tokens: true,
      cache_prompt: true,
      timings_per_token: true,
      stop: req.stop ?? [],
    };

    const ac = new AbortController();
    const watchdog = new StreamWatchdog(this.timeouts.firstTokenMs, this.timeouts.idleMs, () => ac.abort());
    const onAbort = (): void => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    // Serialized outside the transport's try: our error, never the server's (src/backends/http.ts).
    const bodyText = this.payloadText(req.sampling, llamaSampling, payload);

    const decoder = new SseDecoder({ maxEventChars: this.maxEventChars });
    const reader = new LlamaChunkReader(req.stopTokenIds);
    let body: Dispatcher.ResponseData['body'] | undefined;
    try {
      const res = await this.http.dispatcher.request({
        origin: this.http.origin,
        path: this.http.basePath + '/completion',
        method: 'POST',
        headers: this.streamHeaders,
        body: bodyText,
        signal: ac.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      body = res.body;
      if (res.statusCode !== 200) throw mapUpstreamStatus(res.statusCode, await readLimited(res.body), COMPLETION);
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        const before = reader.tokens;
        for (const data of decoder.push(chunk)) {
          for (const ev of reader.read(data)) {
            watchdog.pause();
            yield ev;
            watchdog.resume();
          }
        }
        // Stopped at a stop id: close the request (finally), llama-server cancels the generation.
        if (reader.stoppedAtId) return;
        // Only tokens are progress: events without any must not keep the timers alive.
        if (reader.tokens > before) watchdog.data();
      }
      for (const data of decoder.end()) for (const ev of reader.read(data)) yield ev;
    } catch (err) {
      if (signal.aborted) throw new AbortedError();
      if (err instanceof ThinkgateError) throw err;
      if (reader.finished) return;
      if (watchdog.timedOut !== null) {
        throw new UpstreamTimeoutError(
          watchdog.timedOut === 'first token'
            ? `llama-server sent no token within ${this.timeouts.firstTokenMs} ms (first token timeout).`
            : `llama-server sent nothing for ${this.timeouts.idleMs} ms mid-stream (idle timeout).`,
        );
      }
      throw mapTransportError(err, COMPLETION, body === undefined ? 'connect' : 'response');
    } finally {
      watchdog.stop();
      signal.removeEventListener('abort', onAbort);
      if (body !== undefined && !body.readableEnded) {
        ac.abort();
        body.destroy();
      }
    }
    if (!reader.finished) throw new UpstreamError('llama-server ended the response without a final event: upstream closed the stream early.');
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
