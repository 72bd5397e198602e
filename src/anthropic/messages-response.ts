/**
 * Non-stream /v1/messages: engine events -> one Anthropic `message` (messages-shape.ts). One run
 * (Anthropic has no `n`): its thinking becomes one `thinking` block, its answer one `text` block;
 * an answer-less, thought-less message is one empty text block, as Anthropic and vLLM send it.
 */
import type { EngineEvent } from '../engine/types.js';
import { anthropicUsage, stopReasonOf, thinkingSignature, type AnthropicMessage, type ContentBlock, type MessageMeta } from './messages-shape.js';

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
    if (this.text.length > 0) content.push({ type: 'text', text: this.text.join('') });
    if (content.length === 0) content.push({ type: 'text', text: '' });
    const f = this.finish;
    return {
      id: this.meta.id,
      type: 'message',
      role: 'assistant',
      model: this.meta.model,
      content,
      ...(f === undefined ? { stop_reason: null, stop_sequence: null } : stopReasonOf(f.reason, f.stopSequence)),
      usage: f === undefined ? { input_tokens: 0, output_tokens: 0 } : anthropicUsage(f.usage),
      ...(f === undefined ? {} : { budget_forcing: f.budgetForcing }),
    };
  }
}
