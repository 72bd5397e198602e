/**
 * One choice's answer under a ToolPlan, rendered as vLLM 0.32's chat endpoint renders it
 * (entrypoints/openai/chat_completion/serving.py): the message fields and finish reason of a
 * whole answer, and the delta stream of a streamed one. Only answer text comes here; reasoning
 * is rendered apart by the caller, so a `<tool_call>` inside thinking is never parsed.
 */
import type { EngineFinishReason } from '../engine/types.js';
import { extractNamed, extractRequired, NamedStream, RequiredStream } from './forced.js';
import type { ToolPlan } from './tool-plan.js';
import type { StreamPiece, StreamToolParser, ToolCallOut, ToolParserDeps } from './types.js';

export type ToolFinishReason = EngineFinishReason | 'tool_calls';

export interface AnswerWithTools {
  /** null where vLLM's is None (a tool call with blank text around it). */
  content: string | null;
  /** Absent when no call was made (vLLM drops an empty list). */
  toolCalls?: ToolCallOut[];
  finishReason: ToolFinishReason;
}

/** The non-stream reading (serving.py `chat_completion_full_generator`). */
export function readAnswer(plan: ToolPlan, text: string, reason: EngineFinishReason, deps: ToolParserDeps): AnswerWithTools {
  switch (plan.mode) {
    case 'off':
      return { content: text, finishReason: reason };
    case 'auto': {
      const ex = plan.parser.extract(text, deps);
      if (!ex.toolsCalled) return { content: text, finishReason: reason };
      // parser/abstract_parser.py: blank content around calls becomes None.
      const content = ex.content !== null && ex.content.trim() === '' ? null : ex.content;
      const calls = plan.parallel ? ex.calls : ex.calls.slice(0, 1);
      if (calls.length === 0) return { content, finishReason: reason };
      // "auto": finish_reason is tool_calls whenever calls were parsed, whatever the engine's reason.
      return { content, toolCalls: calls, finishReason: 'tool_calls' };
    }
    case 'named':
    case 'required': {
      const ex = plan.mode === 'named' ? extractNamed(text, plan.name, deps) : extractRequired(text, deps);
      const calls = plan.parallel ? ex.calls : ex.calls.slice(0, 1);
      // Forced choices: content is `content or ""`; only "required" turns a stop into tool_calls
      // (OpenAI: a named call finishes with "stop").
      const finishReason = plan.mode === 'required' && reason === 'stop' ? 'tool_calls' : reason;
      return calls.length > 0 ? { content: '', toolCalls: calls, finishReason } : { content: '', finishReason };
    }
  }
}

/** The stream reading of one choice (serving.py `chat_completion_stream_generator`). */
export class AnswerToolStream {
  private readonly parser: StreamToolParser | null;
  private streamedCalls = false;

  constructor(
    private readonly plan: ToolPlan,
    deps: ToolParserDeps,
  ) {
    this.parser =
      plan.mode === 'auto'
        ? plan.parser.stream(deps)
        : plan.mode === 'named'
          ? new NamedStream(plan.name, deps)
          : plan.mode === 'required'
            ? new RequiredStream(deps)
            : null;
  }

  push(text: string): StreamPiece {
    if (this.parser === null) return { content: text, toolCalls: [] };
    return this.filter(this.parser.push(text));
  }

  end(): StreamPiece {
    if (this.parser === null) return { content: '', toolCalls: [] };
    return this.filter(this.parser.end());
  }

  /** "tool_calls" when calls were streamed and the engine stopped, except for a named choice. */
  finishReason(reason: EngineFinishReason): ToolFinishReason {
    return this.streamedCalls && this.plan.mode !== 'named' && reason === 'stop' ? 'tool_calls' : reason;
  }

  private filter(piece: StreamPiece): StreamPiece {
    // tool_calls_utils.py maybe_filter_parallel_tool_calls: with parallel_tool_calls false, call 0 only.
    const calls = this.plan.mode !== 'off' && !this.plan.parallel ? piece.toolCalls.filter((c) => c.index === 0) : piece.toolCalls;
    if (calls.length > 0) this.streamedCalls = true;
    return calls === piece.toolCalls ? piece : { content: piece.content, toolCalls: calls };
  }
}
