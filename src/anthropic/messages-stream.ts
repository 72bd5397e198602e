/**
 * Streamed /v1/messages: engine events -> Anthropic's named SSE events, in its order
 * (API reference, "Streaming Messages"; vLLM's `message_stream_converter` sends the same):
 *
 *   message_start, ping,
 *   per block: content_block_start, content_block_delta (thinking_delta | text_delta |
 *              input_json_delta)..., [signature_delta for a thinking block], content_block_stop,
 *   message_delta {stop_reason, stop_sequence, usage}, message_stop.
 *
 * A thinking block closes when the answer starts; thinking after an answer cannot happen (the
 * engine answers last). No `data: [DONE]`. A failure after the first byte is one `error` event
 * in Anthropic's envelope.
 */
import type { EngineEvent } from '../engine/types.js';
import { toAnthropicErrorBody, type ThinkgateError } from '../errors.js';
import { SseEvent } from '../openai/sse-writer.js';
import { AnswerToolStream } from '../tools/answer-tools.js';
import type { StreamPiece } from '../tools/types.js';
import { anthropicUsage, stopReasonOf, thinkingSignature, type MessageMeta } from './messages-shape.js';

type Block = 'thinking' | 'text' | 'tool_use';

export class MessageStreamRenderer {
  readonly sendsDone = false;
  private started = false;
  private block: Block | null = null;
  private index = -1;
  private promptTokens = 0;
  /** The answer's tool reader (src/tools/): text before a call marker is text, calls become tool_use blocks. */
  private readonly tools: AnswerToolStream | undefined;
  /** Chat's call index -> whether its tool_use block is the open one (arguments go to the open block only, as vLLM). */
  private openCall: number | undefined;
  private toolUsed = false;

  constructor(private readonly meta: MessageMeta) {
    const plan = meta.tools;
    this.tools =
      plan === undefined || plan.mode === 'off' ? undefined : new AnswerToolStream(plan, { newId: meta.newToolCallId ?? (() => 'chatcmpl-tool-0') });
  }

  onEvent(ev: EngineEvent): SseEvent[] {
    switch (ev.type) {
      case 'segment':
        // The first segment's prompt is the request's input (later ones add what was generated).
        if (ev.index === 1) this.promptTokens = ev.promptTokens;
        return [];
      case 'reasoning':
        return ev.text === '' ? [] : this.delta('thinking', { type: 'thinking_delta', thinking: ev.text });
      case 'content':
        if (ev.text === '') return [];
        if (this.tools === undefined) return this.delta('text', { type: 'text_delta', text: ev.text });
        return this.piece(this.tools.push(ev.text));
      case 'finish': {
        const out = [...this.start()];
        if (this.tools !== undefined) out.push(...this.piece(this.tools.end()));
        out.push(...this.closeBlock());
        out.push(
          new SseEvent('message_delta', {
            type: 'message_delta',
            // vLLM: a tool_use block made means stop_reason tool_use (unless max_tokens cut it).
            delta: stopReasonOf(ev.reason, ev.stopSequence, this.toolUsed),
            usage: anthropicUsage(ev.usage),
            budget_forcing: ev.budgetForcing,
          }),
          new SseEvent('message_stop', { type: 'message_stop' }),
        );
        return out;
      }
      case 'usage':
      case 'delimiter':
      case 'logprobs': // not part of Anthropic's API
        return [];
    }
  }

  errorEvent(e: ThinkgateError): SseEvent {
    return new SseEvent('error', toAnthropicErrorBody(e));
  }

  private start(): SseEvent[] {
    if (this.started) return [];
    this.started = true;
    return [
      new SseEvent('message_start', {
        type: 'message_start',
        message: {
          id: this.meta.id,
          type: 'message',
          role: 'assistant',
          model: this.meta.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: this.promptTokens, output_tokens: 0 },
        },
      }),
      new SseEvent('ping', { type: 'ping' }),
    ];
  }

  /** What the tool reader released: text deltas, then a tool_use block per new call and its argument fragments. */
  private piece(p: StreamPiece): SseEvent[] {
    const out: SseEvent[] = [];
    if (p.content !== '') out.push(...this.delta('text', { type: 'text_delta', text: p.content }));
    for (const d of p.toolCalls) {
      if (d.id !== undefined && d.function.name !== undefined) {
        out.push(...this.start(), ...this.closeBlock());
        this.block = 'tool_use';
        this.index++;
        this.openCall = d.index;
        this.toolUsed = true;
        const block = { type: 'tool_use', id: d.id, name: d.function.name, input: {} };
        out.push(new SseEvent('content_block_start', { type: 'content_block_start', index: this.index, content_block: block }));
      }
      const args = d.function.arguments;
      if (args !== undefined && args !== '' && this.block === 'tool_use' && this.openCall === d.index) {
        out.push(new SseEvent('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'input_json_delta', partial_json: args } }));
      }
    }
    return out;
  }

  private delta(kind: Block, delta: Record<string, string>): SseEvent[] {
    const out = this.start();
    if (this.block !== kind) {
      out.push(...this.closeBlock());
      this.block = kind;
      this.index++;
      const empty = kind === 'thinking' ? { type: 'thinking', thinking: '' } : { type: 'text', text: '' };
      out.push(new SseEvent('content_block_start', { type: 'content_block_start', index: this.index, content_block: empty }));
    }
    out.push(new SseEvent('content_block_delta', { type: 'content_block_delta', index: this.index, delta }));
    return out;
  }

  private closeBlock(): SseEvent[] {
    if (this.block === null) return [];
    const out: SseEvent[] = [];
    if (this.block === 'thinking') {
      out.push(
        new SseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: this.index,
          delta: { type: 'signature_delta', signature: thinkingSignature() },
        }),
      );
    }
    out.push(new SseEvent('content_block_stop', { type: 'content_block_stop', index: this.index }));
    this.block = null;
    return out;
  }
}
