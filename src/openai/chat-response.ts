/**
 * Non-stream rendering: engine events -> one `chat.completion` (docs/api.md).
 *
 * Thinking can be tens of thousands of deltas; text is kept in arrays and joined once in
 * result(), not concatenated per delta.
 */
import type { BudgetForcingSummary, EngineEvent, EngineFinishReason, Usage } from '../engine/types.js';
import type { ChatCompletion, ChatCompletionChoice, ChatCompletionMessage, ReasoningField } from './types.js';
import { sumBudgetForcing, sumUsage, toChatUsage } from './usage.js';
import { toChatLogprobContent, type ChatLogprobContent } from './chat-logprobs.js';
import { readAnswer } from '../tools/answer-tools.js';
import type { ToolPlan } from '../tools/tool-plan.js';

export interface ChatRenderOptions {
  id: string;
  created: number;
  model: string;
  /** Which names carry the thinking text (docs/api.md: configurable, both by default). */
  reasoningFields: readonly ReasoningField[];
  /** The client asked for `logprobs: true`: choices carry `logprobs.content` (else `logprobs: null`). */
  logprobs?: boolean;
  /** vLLM's `include_reasoning` (default true): false renders no thinking text (null fields, no deltas). */
  includeReasoning?: boolean;
  /** The request's tool semantics (tools/tool-plan.ts); absent = no tools. */
  tools?: ToolPlan;
  /** A fresh tool-call id (`chatcmpl-tool-<hex>`); required when `tools` may produce calls. */
  newToolCallId?: () => string;
}

interface ChoiceState {
  reasoning: string[];
  content: string[];
  /** Logprob entries of the thinking and the answer, in generation order (vLLM: one list for both). */
  logprobs: ChatLogprobContent[];
  finish: { reason: EngineFinishReason; usage: Usage; budgetForcing: BudgetForcingSummary } | null;
}

export class ChatCompletionBuilder {
  private readonly choices: ChoiceState[] = [];

  constructor(private readonly opts: ChatRenderOptions) {}

  /** Feed one engine event of choice `index` (one engine run per choice; n > 1 runs several). */
  onEvent(ev: EngineEvent, index = 0): void {
    const choice = this.choice(index);
    switch (ev.type) {
      case 'reasoning':
        if (ev.text !== '' && this.opts.includeReasoning !== false) choice.reasoning.push(ev.text);
        this.addLogprobs(choice, ev.logprobs);
        return;
      case 'content':
        if (ev.text !== '') choice.content.push(ev.text);
        this.addLogprobs(choice, ev.logprobs);
        return;
      case 'logprobs':
        this.addLogprobs(choice, ev.logprobs);
        return;
      case 'finish':
        choice.finish = { reason: ev.reason, usage: ev.usage, budgetForcing: ev.budgetForcing };
        return;
      case 'segment':
      case 'usage':
      case 'delimiter':
        // Per-segment bookkeeping; the finish event carries the request's totals.
        return;
    }
  }

  /** The response body. Choices that never finished (a bug upstream of here) report `finish_reason: null`. */
  result(): ChatCompletion {
    const usages: Usage[] = [];
    const summaries: BudgetForcingSummary[] = [];
    const choices: ChatCompletionChoice[] = [];
    if (this.choices.length === 0) this.choice(0);
    this.choices.forEach((state, index) => {
      if (state.finish !== null) {
        usages.push(state.finish.usage);
        summaries.push(state.finish.budgetForcing);
      }
      const logprobs = this.logprobsOn() ? { content: state.logprobs } : null;
      const { message, finishReason } = this.message(state);
      const choice: ChatCompletionChoice = { index, message, logprobs, finish_reason: finishReason };
      // n > 1: each sample was budget-forced on its own (the paper's parallel-scaling baseline).
      if (this.choices.length > 1 && state.finish !== null) choice.budget_forcing = state.finish.budgetForcing;
      choices.push(choice);
    });
    return {
      id: this.opts.id,
      object: 'chat.completion',
      created: this.opts.created,
      model: this.opts.model,
      system_fingerprint: null,
      choices,
      usage: toChatUsage(sumUsage(usages)),
      budget_forcing: sumBudgetForcing(summaries),
    };
  }

  private addLogprobs(choice: ChoiceState, entries: Parameters<typeof toChatLogprobContent>[0] | undefined): void {
    if (entries === undefined || !this.logprobsOn()) return;
    for (const e of toChatLogprobContent(entries)) choice.logprobs.push(e);
  }

  /** Hidden thinking hides the logprobs too, as vLLM's suppress_metadata does (chat_completion/serving.py). */
  private logprobsOn(): boolean {
    return this.opts.logprobs === true && this.opts.reasoningFields.length > 0 && this.opts.includeReasoning !== false;
  }

  private message(state: ChoiceState): { message: ChatCompletionMessage; finishReason: ChatCompletionChoice['finish_reason'] } {
    const text = state.content.join('');
    const plan = this.opts.tools ?? { mode: 'off' as const };
    const newId = this.opts.newToolCallId ?? (() => 'chatcmpl-tool-0');
    const read = readAnswer(plan, text, state.finish?.reason ?? 'stop', { newId });
    const message: ChatCompletionMessage = { role: 'assistant', content: read.content };
    if (read.toolCalls !== undefined) message.tool_calls = read.toolCalls;
    // null, not '', when there was no thinking at all: what vLLM's reasoning parser returns.
    // include_reasoning: false sets the message's reasoning to None, as vLLM's serving.py does.
    const reasoning = state.reasoning.length === 0 || this.opts.includeReasoning === false ? null : state.reasoning.join('');
    for (const field of this.opts.reasoningFields) message[field] = reasoning;
    return { message, finishReason: state.finish === null ? null : read.finishReason };
  }

  private choice(index: number): ChoiceState {
    const existing = this.choices[index];
    if (existing !== undefined) return existing;
    while (this.choices.length < index) this.choices.push(emptyChoice());
    const created = emptyChoice();
    this.choices.push(created);
    return created;
  }
}

function emptyChoice(): ChoiceState {
  return { reasoning: [], content: [], logprobs: [], finish: null };
}
