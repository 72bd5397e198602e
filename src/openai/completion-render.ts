/**
 * Engine events -> `/v1/completions` responses: one `text_completion` (TextCompletionBuilder)
 * or its stream of chunks (TextCompletionChunks), in vLLM's shapes (protocol.py:
 * CompletionResponse, CompletionStreamResponse). The engine runs in transcript mode here, so
 * delimiter events carry the ids thinkgate inserted and `text` is the whole transcript.
 *
 * Choices are indexed prompt * n + sample, as vLLM and OpenAI index a batch.
 */
import type { BudgetForcingSummary, EngineEvent, EngineFinishReason, Usage } from '../engine/types.js';
import type { TextCompletion, TextCompletionChoice, TextCompletionChunk } from './types.js';
import { batchUsage, sumBudgetForcing, toChatUsage } from './usage.js';
import type { RunningUsage } from './running-usage.js';

export interface CompletionRenderOptions {
  id: string;
  created: number;
  model: string;
  /** Choices in all: prompts x n. */
  choices: number;
  /** Samples per prompt (`n`): how usage groups the choices. */
  n: number;
}

interface Finish {
  reason: EngineFinishReason;
  usage: Usage;
  budgetForcing: BudgetForcingSummary;
}

/** Usage and budget forcing of a whole request: its finished choices, grouped `n` to a prompt. */
function totals(finishes: readonly (Finish | undefined)[], n: number): Pick<TextCompletion, 'usage' | 'budget_forcing'> {
  const done = finishes.filter((f): f is Finish => f !== undefined);
  return {
    usage: toChatUsage(batchUsage(finishes.map((f) => f?.usage), n)),
    budget_forcing: sumBudgetForcing(done.map((f) => f.budgetForcing)),
  };
}

function textOf(ev: EngineEvent): string | null {
  return ev.type === 'reasoning' || ev.type === 'delimiter' || ev.type === 'content' ? ev.text : null;
}

export class TextCompletionBuilder {
  private readonly texts: string[][];
  private readonly finishes: (Finish | undefined)[];

  constructor(private readonly opts: CompletionRenderOptions) {
    this.texts = Array.from({ length: opts.choices }, () => []);
    this.finishes = new Array<Finish | undefined>(opts.choices);
  }

  onEvent(ev: EngineEvent, index = 0): void {
    const text = textOf(ev);
    if (text !== null) {
      if (text !== '') this.texts[index]!.push(text);
    } else if (ev.type === 'finish') {
      this.finishes[index] = { reason: ev.reason, usage: ev.usage, budgetForcing: ev.budgetForcing };
    }
  }

  result(): TextCompletion {
    const many = this.opts.choices > 1;
    const choices = this.texts.map((parts, index): TextCompletionChoice => {
      const f = this.finishes[index];
      const choice: TextCompletionChoice = { index, text: parts.join(''), logprobs: null, finish_reason: f?.reason ?? null };
      if (many && f !== undefined) choice.budget_forcing = f.budgetForcing;
      return choice;
    });
    return {
      id: this.opts.id,
      object: 'text_completion',
      created: this.opts.created,
      model: this.opts.model,
      system_fingerprint: null,
      choices,
      ...totals(this.finishes, this.opts.n),
    };
  }
}

export class TextCompletionChunks {
  private readonly finishes: (Finish | undefined)[];
  private finished = 0;

  /**
   * `continuousUsage` (continuous_usage_stats with include_usage): every chunk carries its
   * choice's usage so far, with its own prompt's tokens, as vLLM's completion/serving.py does.
   */
  constructor(private readonly opts: CompletionRenderOptions & { includeUsage: boolean; continuousUsage?: RunningUsage }) {
    this.finishes = new Array<Finish | undefined>(opts.choices);
  }

  /** The chunks for one event of choice `index` (none for segment/usage events). */
  onEvent(ev: EngineEvent, index = 0): TextCompletionChunk[] {
    this.opts.continuousUsage?.note(ev, index);
    const text = textOf(ev);
    if (text !== null) return text === '' ? [] : [this.chunk({ index, text, logprobs: null, finish_reason: null })];
    if (ev.type !== 'finish') return [];
    const f: Finish = { reason: ev.reason, usage: ev.usage, budgetForcing: ev.budgetForcing };
    this.finishes[index] = f;
    this.finished++;
    const last = this.chunk({ index, text: '', logprobs: null, finish_reason: ev.reason }, ev.usage);
    if (this.opts.choices > 1) last.choices[0]!.budget_forcing = f.budgetForcing;
    // Without a usage chunk the finish chunk is where a stream client reads budget_forcing (docs/api.md).
    if (!this.opts.includeUsage) last.budget_forcing = f.budgetForcing;
    const out = [last];
    if (this.opts.includeUsage && this.finished === this.opts.choices) {
      out.push({ ...this.base(), choices: [], ...totals(this.finishes, this.opts.n) });
    }
    return out;
  }

  private base(): Omit<TextCompletionChunk, 'choices'> {
    const { id, created, model } = this.opts;
    return { id, object: 'text_completion', created, model, system_fingerprint: null };
  }

  private chunk(choice: TextCompletionChoice, final?: Usage): TextCompletionChunk {
    // OpenAI: with include_usage "all other chunks will also include a usage field, but with a null value";
    // vLLM's continuous_usage_stats puts the choice's usage so far there instead.
    if (!this.opts.includeUsage) return { ...this.base(), choices: [choice] };
    return { ...this.base(), choices: [choice], usage: this.opts.continuousUsage?.usage(choice.index, final) ?? null };
  }
}
