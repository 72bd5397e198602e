/**
 * Tool-call parsing, sans I/O: the shapes every parser (hermes, deepseek_v3, llama3_json, the
 * `required` / named-choice readers) takes and gives. A parser is fed the ANSWER text of one
 * choice, never the thinking (docs/api.md "Tool calls"): the engine has already split the two,
 * so `<tool_call>` inside reasoning stays reasoning.
 *
 * Two readings, as vLLM has two: `extract(text)` reads a whole answer (vLLM's
 * `extract_tool_calls`, the non-stream response), `StreamToolParser.push(delta)` reads it piece
 * by piece (vLLM's `extract_tool_calls_streaming`). Both are deterministic; ids come from the
 * caller's `newId`, so tests can pin them.
 */

/** One parsed call of a non-stream answer. */
export interface ToolCallOut {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** vLLM's ExtractedToolCallInformation: `content` is null where vLLM's is None. */
export interface ExtractedToolCalls {
  toolsCalled: boolean;
  calls: ToolCallOut[];
  content: string | null;
}

/** vLLM's DeltaToolCall: the first delta of call `index` has id, type and name; later ones only argument text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments?: string };
}

/** What one pushed piece of answer text releases: plain content and/or call deltas (either may be empty). */
export interface StreamPiece {
  content: string;
  toolCalls: ToolCallDelta[];
}

export interface StreamToolParser {
  /** Feed the next piece of answer text. */
  push(delta: string): StreamPiece;
  /** The answer ended: whatever was held back (a partial marker at the very end) is released. */
  end(): StreamPiece;
}

export interface ToolParserDeps {
  /** A fresh call id, `chatcmpl-tool-<hex>` as vLLM's make_tool_call_id. */
  newId: () => string;
}

/** A `--tool-call-parser` implementation: both readings. */
export interface ToolParserKind {
  extract(text: string, deps: ToolParserDeps): ExtractedToolCalls;
  stream(deps: ToolParserDeps): StreamToolParser;
}

export const EMPTY_PIECE: StreamPiece = Object.freeze({ content: '', toolCalls: [] }) as StreamPiece;

/**
 * Length of the longest proper prefix of `tag` that ends `text` (vllm/tool_parsers/utils.py
 * partial_tag_overlap): text that may be the start of a marker is held back until the next piece.
 */
export function partialTagOverlap(text: string, tag: string): number {
  const max = Math.min(tag.length - 1, text.length);
  for (let k = max; k > 0; k--) if (text.endsWith(tag.slice(0, k))) return k;
  return 0;
}
