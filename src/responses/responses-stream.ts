/**
 * Streamed /v1/responses: engine events -> the Responses API's named SSE events, in the order
 * vLLM 0.32 sends them (responses/serving.py responses_stream_generator and streaming_events.py
 * SimpleStreamingEventProcessor), each with the `sequence_number` the SDK types require
 * (0, 1, 2, ... in the order sent):
 *
 *   response.created, response.in_progress,
 *   per output item: response.output_item.added, then
 *     reasoning:     response.content_part.added, response.reasoning_text.delta...,
 *                    response.reasoning_text.done, response.content_part.done
 *     message:       response.content_part.added, response.output_text.delta...,
 *                    response.output_text.done, response.content_part.done
 *     function_call: response.function_call_arguments.delta..., response.function_call_arguments.done
 *   response.output_item.done,
 *   response.completed (the whole response, its output the items streamed, usage and
 *   budget_forcing; status `incomplete` when max_output_tokens cut it, as vLLM sends it).
 *
 * An item closes when the next one opens. No `data: [DONE]`. A failure after the first byte is one
 * `error` event (the SDK's ResponseErrorEvent: code, message, param), then the stream ends.
 *
 * With tools, blank answer text before a call is held back and dropped when a call follows, as
 * the non-stream answer drops blank text around calls: stream and non-stream give the same items.
 */
import type { EngineEvent } from '../engine/types.js';
import type { ThinkgateError } from '../errors.js';
import { SseEvent } from '../openai/sse-writer.js';
import { AnswerToolStream } from '../tools/answer-tools.js';
import type { StreamPiece } from '../tools/types.js';
import {
  outputText,
  reasoningItem,
  responseObject,
  responsesUsage,
  statusOf,
  type FunctionCallItem,
  type OutputItem,
  type ResponseMeta,
} from './responses-shape.js';

interface OpenItem {
  kind: OutputItem['type'];
  id: string;
  index: number;
  text: string;
  /** function_call only: the item as added, and chat's call index its argument deltas carry. */
  call?: FunctionCallItem;
  callIndex?: number;
}

export class ResponseStreamRenderer {
  readonly sendsDone = false;
  private seq = 0;
  private started = false;
  private open: OpenItem | null = null;
  private readonly done: OutputItem[] = [];
  private readonly tools: AnswerToolStream | undefined;
  /** Blank answer text not yet sent (tools only): dropped if a call follows. */
  private blank = '';
  private called = false;

  constructor(private readonly meta: ResponseMeta) {
    this.tools = meta.tools.mode === 'off' ? undefined : new AnswerToolStream(meta.tools, { newId: meta.newToolCallId });
  }

  onEvent(ev: EngineEvent): SseEvent[] {
    switch (ev.type) {
      case 'reasoning':
        if (ev.text === '' || !this.meta.includeReasoning) return [];
        return this.delta('reasoning', 'response.reasoning_text.delta', ev.text, {});
      case 'content':
        if (ev.text === '') return [];
        if (this.tools === undefined) return this.text(ev.text);
        return this.piece(this.tools.push(ev.text));
      case 'finish': {
        const out = this.start();
        if (this.tools !== undefined) out.push(...this.piece(this.tools.end()));
        if (this.blank !== '' && !this.called) out.push(...this.text(this.blank, true));
        out.push(...this.close());
        const response = responseObject(this.meta, {
          status: statusOf(ev.reason),
          output: this.done,
          usage: responsesUsage(ev.usage),
          budgetForcing: ev.budgetForcing,
        });
        out.push(this.ev('response.completed', { response }));
        return out;
      }
      case 'segment':
      case 'usage':
      case 'delimiter':
      case 'logprobs': // not rendered on /v1/responses (include logprobs is refused for now)
        return [];
    }
  }

  errorEvent(e: ThinkgateError): SseEvent {
    return this.ev('error', { code: e.code ?? e.type, message: e.message, param: e.param });
  }

  private ev(type: string, fields: Record<string, unknown>): SseEvent {
    return new SseEvent(type, { type, sequence_number: this.seq++, ...fields });
  }

  /** item_id and output_index of the open item, then `fields`. */
  private at(fields: Record<string, unknown>): Record<string, unknown> {
    return { item_id: this.open!.id, output_index: this.open!.index, ...fields };
  }

  private start(): SseEvent[] {
    if (this.started) return [];
    this.started = true;
    const response = responseObject(this.meta, { status: 'in_progress', output: [], usage: null });
    return [this.ev('response.created', { response }), this.ev('response.in_progress', { response })];
  }

  /** Answer text: held back while blank (tools on, `force` false), else a message delta. */
  private text(t: string, force = false): SseEvent[] {
    let text = t;
    if (this.tools !== undefined && this.open?.kind !== 'message' && !force) {
      const held = this.blank + t;
      if (held.trim() === '') {
        this.blank = held;
        return [];
      }
      this.blank = '';
      text = held;
    }
    return this.delta('message', 'response.output_text.delta', text, { logprobs: [] });
  }

  /** One text delta of a reasoning or message item, opening it first when needed. */
  private delta(kind: 'reasoning' | 'message', type: string, text: string, extra: Record<string, unknown>): SseEvent[] {
    const out = [...this.start(), ...this.ensure(kind)];
    this.open!.text += text;
    out.push(this.ev(type, this.at({ content_index: 0, delta: text, ...extra })));
    return out;
  }

  /** What the tool reader released: answer text, then a function_call item per new call and its argument fragments. */
  private piece(p: StreamPiece): SseEvent[] {
    const out = p.content === '' ? [] : this.text(p.content);
    for (const d of p.toolCalls) {
      if (d.id !== undefined && d.function.name !== undefined) {
        this.blank = '';
        this.called = true;
        out.push(...this.start(), ...this.close());
        const id = this.meta.newItemId('fc');
        const call: FunctionCallItem = { type: 'function_call', id, call_id: d.id, name: d.function.name, arguments: '', status: 'in_progress' };
        this.open = { kind: 'function_call', id, index: this.done.length, text: '', call, callIndex: d.index };
        out.push(this.ev('response.output_item.added', { output_index: this.open.index, item: call }));
      }
      const args = d.function.arguments;
      if (args !== undefined && args !== '' && this.open?.kind === 'function_call' && this.open.callIndex === d.index) {
        this.open.text += args;
        out.push(this.ev('response.function_call_arguments.delta', this.at({ delta: args })));
      }
    }
    return out;
  }

  /** Opens an item of `kind` (closing the open one) unless one is open. */
  private ensure(kind: 'reasoning' | 'message'): SseEvent[] {
    if (this.open?.kind === kind) return [];
    const out = this.close();
    const id = this.meta.newItemId(kind === 'reasoning' ? 'rs' : 'msg');
    this.open = { kind, id, index: this.done.length, text: '' };
    if (kind === 'reasoning') {
      out.push(
        this.ev('response.output_item.added', { output_index: this.open.index, item: { type: 'reasoning', id, summary: [], status: 'in_progress' } }),
        this.ev('response.content_part.added', this.at({ content_index: 0, part: { type: 'reasoning_text', text: '' } })),
      );
    } else {
      out.push(
        this.ev('response.output_item.added', { output_index: this.open.index, item: { type: 'message', id, role: 'assistant', status: 'in_progress', content: [] } }),
        this.ev('response.content_part.added', this.at({ content_index: 0, part: outputText('') })),
      );
    }
    return out;
  }

  /** The open item's done events; the item joins the response's output. */
  private close(): SseEvent[] {
    const o = this.open;
    if (o === null) return [];
    const out: SseEvent[] = [];
    let item: OutputItem;
    if (o.kind === 'reasoning') {
      const part = { type: 'reasoning_text', text: o.text };
      item = reasoningItem(o.id, o.text, 'completed');
      out.push(
        this.ev('response.reasoning_text.done', this.at({ content_index: 0, text: o.text })),
        this.ev('response.content_part.done', this.at({ content_index: 0, part })),
      );
    } else if (o.kind === 'message') {
      item = { type: 'message', id: o.id, role: 'assistant', status: 'completed', content: [outputText(o.text)] };
      out.push(
        this.ev('response.output_text.done', this.at({ content_index: 0, text: o.text, logprobs: [] })),
        this.ev('response.content_part.done', this.at({ content_index: 0, part: outputText(o.text) })),
      );
    } else {
      item = { ...o.call!, arguments: o.text, status: 'completed' };
      out.push(this.ev('response.function_call_arguments.done', this.at({ name: item.name, arguments: o.text })));
    }
    out.push(this.ev('response.output_item.done', { output_index: o.index, item }));
    this.done.push(item);
    this.open = null;
    return out;
  }
}
