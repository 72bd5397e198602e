/**
 * Non-stream /v1/messages: engine events -> one Anthropic `message` (messages-shape.ts). One run
 * (Anthropic has no `n`): its thinking becomes one `thinking` block, its answer one `text` block;
 * an answer-less, thought-less message is one empty text block, as Anthropic and vLLM send it.
 */
import type { EngineEvent } from '../engine/types.js';
import { readAnswer } from '../tools/answer-tools.js';
import { anthropicUsage, stopReasonOf, thinkingSignature, toolInput, type AnthropicMessage, type ContentBlock, type MessageMeta } from './messages-shape.js';

export class MessageBuilder {
  private readonly reasoning: string[] = [];
  private readonly text: string[] = [];
  private finish: Extract<EngineEvent, { type: 'finish' }> | undefined;

  constructor(private readonly meta: MessageMeta) {}

  onEvent(ev: EngineEvent): void {
    if (ev.type === 'reasoning' && ev.text !== '') this.reasoning.push(ev.text);
    else if (ev.type === 'content' && ev.text !== '') this.text.push(ev.text);
    else if (ev.type === 'finish') this.finish = ev;
  }

  result(): AnthropicMessage {
    const content: ContentBlock[] = [];
    if (this.reasoning.length > 0) content.push({ type: 'thinking', thinking: this.reasoning.join(''), signature: thinkingSignature() });
    const f = this.finish;
    // Tool calls are parsed from the answer only (src/tools/), as on chat.
    const read = readAnswer(this.meta.tools ?? { mode: 'off' }, this.text.join(''), f?.reason ?? 'stop', {
      newId: this.meta.newToolCallId ?? (() => 'chatcmpl-tool-0'),
    });
    if (read.content !== null && read.content !== '') content.push({ type: 'text', text: read.content });
    const calls = read.toolCalls ?? [];
    for (const c of calls) content.push({ type: 'tool_use', id: c.id, name: c.function.name, input: toolInput(c.function.arguments) });
    if (content.length === 0) content.push({ type: 'text', text: '' });
    return {
      id: this.meta.id,
      type: 'message',
      role: 'assistant',
      model: this.meta.model,
      content,
      ...(f === undefined ? { stop_reason: null, stop_sequence: null } : stopReasonOf(f.reason, f.stopSequence, calls.length > 0)),
      usage: f === undefined ? { input_tokens: 0, output_tokens: 0 } : anthropicUsage(f.usage),
      ...(f === undefined ? {} : { budget_forcing: f.budgetForcing }),
    };
  }
}
