/**
 * Non-stream /v1/responses: engine events -> one `response` object (responses-shape.ts), with the
 * output items vLLM's build_response_output_items makes (responses/utils.py), in its order: a
 * `reasoning` item when the model thought (unless `include_reasoning: false`), a `message` item
 * when the answer has text, then one `function_call` item per call parsed from the answer only
 * (src/tools/, as on chat).
 */
import type { EngineEvent } from '../engine/types.js';
import { readAnswer } from '../tools/answer-tools.js';
import { outputText, reasoningItem, responseObject, responsesUsage, statusOf, type OutputItem, type ResponseMeta } from './responses-shape.js';

export class ResponseBuilder {
  private readonly reasoning: string[] = [];
  private readonly text: string[] = [];
  private finish: Extract<EngineEvent, { type: 'finish' }> | undefined;

  constructor(private readonly meta: ResponseMeta) {}

  onEvent(ev: EngineEvent): void {
    if (ev.type === 'reasoning' && ev.text !== '') this.reasoning.push(ev.text);
    else if (ev.type === 'content' && ev.text !== '') this.text.push(ev.text);
    else if (ev.type === 'finish') this.finish = ev;
  }

  result(): Record<string, unknown> {
    const f = this.finish;
    const output: OutputItem[] = [];
    const thinking = this.reasoning.join('');
    if (thinking !== '' && this.meta.includeReasoning) output.push(reasoningItem(this.meta.newItemId('rs'), thinking, 'completed'));
    const read = readAnswer(this.meta.tools, this.text.join(''), f?.reason ?? 'stop', { newId: this.meta.newToolCallId });
    if (read.content !== null && read.content !== '') {
      output.push({ type: 'message', id: this.meta.newItemId('msg'), role: 'assistant', status: 'completed', content: [outputText(read.content)] });
    }
    for (const c of read.toolCalls ?? []) {
      output.push({ type: 'function_call', id: this.meta.newItemId('fc'), call_id: c.id, name: c.function.name, arguments: c.function.arguments, status: 'completed' });
    }
    return responseObject(this.meta, {
      status: f === undefined ? 'completed' : statusOf(f.reason),
      output,
      usage: f === undefined ? null : responsesUsage(f.usage),
      ...(f === undefined ? {} : { budgetForcing: f.budgetForcing }),
    });
  }
}
