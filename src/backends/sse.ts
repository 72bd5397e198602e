/**
 * Server-sent events -> the `data` strings of vLLM's streams. Pure: no I/O, no timers.
 *
 * vLLM's OpenAI server streams `data: <json>\n\n` per chunk and ends with `data: [DONE]\n\n`
 * (vllm/entrypoints/openai/completion/serving.py, completion_stream_generator). Proxies in
 * front of it may add `:` keep-alive comments, `event:`/`id:` fields, or rewrite LF to CRLF;
 * the line grammar is the WHATWG SSE spec's ("9.2.6 Interpreting an event stream"), which
 * eventsource-parser implements: multi-line `data` joined by "\n", comments ignored.
 * LF, CR and CRLF line ends are normalized here (see normalizeLineEnds); TextDecoder strips
 * a UTF-8 BOM at the start.
 *
 * Two APIs over one implementation:
 * - `SseDecoder`: push byte chunks, get the data strings they completed. `done` turns true
 *   at `[DONE]`; data after it is dropped. The vLLM client uses this one, so that it can
 *   re-arm its idle timer per chunk without an extra async generator layer per token.
 * - `sseData(body)`: the same as an async generator; its return value (the `value` of the
 *   final `{done: true}` result) says whether `[DONE]` was seen.
 */
import { createParser, type EventSourceMessage, type EventSourceParser, type ParseError } from 'eventsource-parser';
import { UpstreamError } from '../errors.js';

/** vLLM's end-of-stream sentinel (the OpenAI convention). */
export const SSE_DONE = '[DONE]';

/**
 * Bound on one buffered line or event, in UTF-16 units. A vLLM chunk is a few hundred bytes
 * (more with logprobs); 16 Mi guards memory against a peer that never sends a line end.
 */
export const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

export interface SseDecoderOptions {
  maxEventChars?: number;
}

export class SseDecoder {
  /** True once `data: [DONE]` was decoded; everything after it is ignored. */
  done = false;
  private readonly utf8 = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private out: string[] = [];
  private overflow: ParseError | null = null;
  /** The previous text ended with CR: an LF starting this one is the second half of CRLF. */
  private skipLF = false;

  constructor(opts: SseDecoderOptions = {}) {
    this.parser = createParser({
      onEvent: (ev: EventSourceMessage) => this.onEvent(ev),
      // Unknown fields and bad `retry:` values are ignored, as the SSE spec says; only an
      // over-long line is fatal (the parser is terminated after it).
      onError: (err: ParseError) => {
        if (err.type === 'max-buffer-size-exceeded') this.overflow = err;
      },
      maxBufferSize: opts.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS,
    });
  }

  /**
   * Decodes one chunk of the byte stream; returns the data strings of the events it
   * completed (often none or one). UTF-8 sequences split across chunks decode correctly.
   * Throws UpstreamError when an event grows past the size bound.
   */
  push(chunk: Uint8Array): readonly string[] {
    if (this.done) return [];
    // stream: true keeps an incomplete multibyte sequence for the next chunk.
    const text = this.utf8.decode(chunk, { stream: true });
    if (text.length > 0) this.feed(text);
    return this.take();
  }

  /**
   * The byte stream ended. Flushes the UTF-8 decoder; an event with no terminating blank
   * line is dropped (SSE spec: "incomplete event ... discarded"), so this returns only
   * events completed by the flushed text.
   */
  end(): readonly string[] {
    if (this.done) return [];
    const rest = this.utf8.decode();
    if (rest.length > 0) this.feed(rest);
    return this.take();
  }

  private feed(text: string): void {
    this.parser.feed(this.normalizeLineEnds(text));
    if (this.overflow !== null) {
      throw new UpstreamError('vLLM sent a server-sent event larger than the configured bound.', {
        cause: this.overflow,
      });
    }
  }

  /**
   * CRLF and bare CR -> LF, here rather than in the parser: eventsource-parser holds a
   * trailing CR back until a later line end arrives (it might be half a CRLF), which would
   * delay or, at the end of the body, lose the event it ends. Either way a CR ends a line,
   * so it is resolved at once and a following LF dropped. LF-only streams (vLLM's) pay one
   * indexOf per chunk.
   */
  private normalizeLineEnds(text: string): string {
    if (this.skipLF && text.charCodeAt(0) === 10) text = text.slice(1);
    this.skipLF = false;
    if (text.indexOf('\r') === -1) return text;
    this.skipLF = text.charCodeAt(text.length - 1) === 13;
    return text.replace(/\r\n?/g, '\n');
  }

  private onEvent(ev: EventSourceMessage): void {
    if (this.done) return;
    // Named events are not vLLM's (it sends only unnamed `message` events); skipping them is
    // what an EventSource `onmessage` handler would do.
    if (ev.event !== undefined && ev.event !== 'message') return;
    if (ev.data === SSE_DONE) {
      this.done = true;
      return;
    }
    this.out.push(ev.data);
  }

  private take(): readonly string[] {
    if (this.out.length === 0) return EMPTY;
    const out = this.out;
    this.out = [];
    return out;
  }
}

// Shared empty result: most pushes (partial lines) complete no event; no allocation for them.
const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Yields each event's data string, stopping after `[DONE]` (not yielded). Returns true when
 * `[DONE]` was seen, false when the body ended without it. Leaving the loop (at `[DONE]` or
 * by the consumer's `break`) ends the iteration of `body`, which for a Node Readable
 * destroys it.
 */
export async function* sseData(
  body: AsyncIterable<Uint8Array>,
  opts: SseDecoderOptions = {},
): AsyncGenerator<string, boolean, undefined> {
  const decoder = new SseDecoder(opts);
  for await (const chunk of body) {
    for (const data of decoder.push(chunk)) yield data;
    if (decoder.done) return true;
  }
  for (const data of decoder.end()) yield data;
  return decoder.done;
}
