/**
 * Stream rendering: engine events -> `chat.completion.chunk` objects (docs/api.md), in the order
 * the OpenAI API sends them: a first chunk with `role`, content deltas, a chunk with the
 * `finish_reason` and an empty delta, then (with `stream_options.include_usage`) a last chunk
 * with `choices: []` and the usage. vLLM's reasoning parser sends thinking as
 * `delta.reasoning_content` (and, since 0.10, `delta.reasoning`); we send the configured names.
 *
 * onEvent runs once per generated token: it builds the chunk literal and nothing else.
 */
import type { BudgetForcingSummary, EngineEvent, Usage } from '../engine/types.js';
import type { ChatRenderOptions } from './chat-response.js';
import type { ChatCompletionChunk, ChatCompletionChunkDelta, ChatFinishReason } from './types.js';
import { sumBudgetForcing, sumUsage, toChatUsage } from './usage.js';
import { toChatLogprobContent, type ChatLogprobs } from './chat-logprobs.js';
import type { TokenLogprob } from '../engine/types.js';
import type { RunningUsage } from './running-usage.js';
import { AnswerToolStream } from '../tools/answer-tools.js';
import type { StreamPiece } from '../tools/types.js';

export interface ChatChunkOptions extends ChatRenderOptions {
  /** `stream_options.include_usage`: end with a usage chunk (which then carries `budget_forcing`). */
  includeUsage: boolean;
  /** `continuous_usage_stats` with `include_usage`: each choice's usage so far on every chunk (running-usage.ts). */
  continuousUsage?: RunningUsage;
  /** Number of choices (n); the usage chunk follows the last one's finish. Default 1. */
  choices?: number;
}

export class ChatChunkRenderer {
  private readonly roleSent: boolean[] = [];
  /**
   * `logprobs: true`, unless the thinking is hidden: its tokens would show it, and vLLM sends no
   * logprobs when reasoning is not included (chat_completion/serving.py, hide_stream_metadata).
   */
  private readonly logprobs: boolean;
  private readonly usages: Usage[] = [];
  private readonly summaries: BudgetForcingSummary[] = [];
  private readonly choiceCount: number;
  private readonly reasoningDelta: ((text: string) => ChatCompletionChunkDelta) | null;
  /** Per choice, with tools: the answer's tool-call reader (docs/api.md "Tool calls"). */
  private readonly toolStreams: (AnswerToolStream | undefined)[] = [];

  constructor(private readonly opts: ChatChunkOptions) {
    this.choiceCount = opts.choices ?? 1;
    // include_reasoning: false (vLLM's extra): reasoning deltas are not sent at all, as vLLM's parser drops them.
    this.reasoningDelta = opts.includeReasoning === false ? null : reasoningDeltaFactory(opts.reasoningFields);
    this.logprobs = opts.logprobs === true && this.reasoningDelta !== null;
  }

  /**
   * The chunks to send for one event of choice `index`, in order (often one, never more
   * than three); segment and usage events render none.
   */
  onEvent(ev: EngineEvent, index = 0): ChatCompletionChunk[] {
    this.opts.continuousUsage?.note(ev, index);
    switch (ev.type) {
      case 'reasoning':
        if (ev.text === '' || this.reasoningDelta === null) return [];
        return this.withRole(index, this.chunk(index, this.reasoningDelta(ev.text), null, ev.logprobs));
      case 'content': {
        if (ev.text === '') return [];
        const tools = this.toolStream(index);
        if (tools === undefined) return this.withRole(index, this.chunk(index, { content: ev.text }, null, ev.logprobs));
        return this.piece(index, tools.push(ev.text), ev.logprobs);
      }
      case 'logprobs':
        // Generated ids without text of their own (the model's end delimiter, its end of turn):
        // vLLM sends them as a chunk with an empty delta, so every generated id has its entry.
        if (!this.logprobs) return [];
        return this.withRole(index, this.chunk(index, {}, null, ev.logprobs));
      case 'finish': {
        const tools = this.toolStream(index);
        if (tools === undefined) return this.finish(ev.reason, ev.usage, ev.budgetForcing, index);
        const held = this.piece(index, tools.end());
        return [...held, ...this.finish(tools.finishReason(ev.reason), ev.usage, ev.budgetForcing, index)];
      }
      case 'segment':
      case 'usage':
      case 'delimiter': // chat leaves delimiters out of reasoning_content and content
        return [];
    }
  }

  private toolStream(index: number): AnswerToolStream | undefined {
    const plan = this.opts.tools;
    if (plan === undefined || plan.mode === 'off') return undefined;
    let s = this.toolStreams[index];
    if (s === undefined) {
      const newId = this.opts.newToolCallId ?? (() => 'chatcmpl-tool-0');
      s = new AnswerToolStream(plan, { newId });
      this.toolStreams[index] = s;
    }
    return s;
  }

  /** One chunk for what a tool reader released (content and call deltas together, as vLLM's DeltaMessage), or none. */
  private piece(index: number, piece: StreamPiece, entries?: readonly TokenLogprob[]): ChatCompletionChunk[] {
    if (piece.content === '' && piece.toolCalls.length === 0) {
      // Text held back (a tool marker may be starting): its tokens' logprobs still go out, on an empty delta.
      return this.logprobs && entries !== undefined ? this.withRole(index, this.chunk(index, {}, null, entries)) : [];
    }
    const delta: ChatCompletionChunkDelta = {};
    if (piece.content !== '') delta.content = piece.content;
    if (piece.toolCalls.length > 0) delta.tool_calls = piece.toolCalls;
    return this.withRole(index, this.chunk(index, delta, null, entries));
  }

  /** The role chunk, if choice `index` has not had it yet: lets a route send a first byte early. */
  begin(index = 0): ChatCompletionChunk[] {
    if (this.roleSent[index] === true) return [];
    this.roleSent[index] = true;
    return [this.roleChunk(index)];
  }

  private withRole(index: number, chunk: ChatCompletionChunk): ChatCompletionChunk[] {
    if (this.roleSent[index] === true) return [chunk];
    this.roleSent[index] = true;
    return [this.roleChunk(index), chunk];
  }

  private roleChunk(index: number): ChatCompletionChunk {
    const chunk = this.chunk(index, { role: 'assistant', content: '' }, null);
    // vLLM's first chunk: no token generated yet.
    if (this.opts.continuousUsage) chunk.usage = this.opts.continuousUsage.start(index);
    return chunk;
  }

  private finish(
    reason: ChatFinishReason,
    usage: Usage,
    budgetForcing: BudgetForcingSummary,
    index: number,
  ): ChatCompletionChunk[] {
    const last = this.chunk(index, {}, reason, undefined, usage);
    if (this.choiceCount > 1) last.choices[0]!.budget_forcing = budgetForcing;
    // Without a usage chunk the finish chunk is the only place a stream client can read
    // the budget-forcing summary (docs/api.md).
    if (!this.opts.includeUsage) last.budget_forcing = budgetForcing;
    const out = this.withRole(index, last);
    this.usages.push(usage);
    this.summaries.push(budgetForcing);
    if (this.opts.includeUsage && this.usages.length === this.choiceCount) {
      out.push({
        id: this.opts.id,
        object: 'chat.completion.chunk',
        created: this.opts.created,
        model: this.opts.model,
        system_fingerprint: null,
        choices: [],
        usage: toChatUsage(sumUsage(this.usages)),
        budget_forcing: sumBudgetForcing(this.summaries),
      });
    }
    return out;
  }

  private chunk(
    index: number,
    delta: ChatCompletionChunkDelta,
    finish: ChatFinishReason | null,
    entries?: readonly TokenLogprob[],
    final?: Usage,
  ): ChatCompletionChunk {
    const { id, created, model } = this.opts;
    let logprobs: ChatLogprobs | null = null;
    if (this.logprobs && entries !== undefined) logprobs = { content: toChatLogprobContent(entries) };
    const choices = [{ index, delta, logprobs, finish_reason: finish }];
    // OpenAI: with include_usage "all other chunks will also include a usage field, but with a null value";
    // vLLM's continuous_usage_stats puts the choice's usage so far there instead.
    if (!this.opts.includeUsage) return { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices };
    const usage = this.opts.continuousUsage?.usage(index, final) ?? null;
    return { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, usage };
  }
}

/** One closure per configured field set, so the per-token path does no loop and no key lookup. */
function reasoningDeltaFactory(
  fields: readonly ('reasoning_content' | 'reasoning')[],
): ((text: string) => ChatCompletionChunkDelta) | null {
  const both = fields.includes('reasoning_content') && fields.includes('reasoning');
  if (both) return (text) => ({ reasoning_content: text, reasoning: text });
  if (fields.includes('reasoning_content')) return (text) => ({ reasoning_content: text });
  if (fields.includes('reasoning')) return (text) => ({ reasoning: text });
  return null;
}
