/**
 * `--tool-call-parser llama3_json` (Llama 3.x / 4 with vLLM's examples/tool_chat_template_llama
 * .jinja): the answer is one or more JSON objects `{"name": ..., "arguments"|"parameters": ...}`,
 * optionally after `<|python_tag|>`, separated by "; ". A port of vLLM 0.32's
 * vllm/tool_parsers/llama_tool_parser.py.
 *
 * Non-stream (`extract_tool_calls`): every `{` that is not inside an object already read starts
 * a `raw_decode`; any failure (invalid JSON, a missing `name` or `arguments`/`parameters`, a
 * non-string name) returns no calls and the whole text as content, as vLLM. With calls, content
 * is null (text around them is dropped). Arguments are re-serialized as `json.dumps`.
 *
 * Stream: only an answer that STARTS with `<|python_tag|>` or `{` is read as calls (vLLM tests
 * `current_text.startswith`); anything else is content. vLLM streams growing `json.dumps`
 * prefixes of partially parsed arguments; thinkgate sends each call's header and its arguments
 * once its object is complete, so the concatenated arguments are the same.
 */
import { pyDumps, pyLoads, pyRawDecode, type PyValue } from './py-json.js';
import { TextRope } from './text-rope.js';
import type { ExtractedToolCalls, StreamPiece, StreamToolParser, ToolCallDelta, ToolCallOut, ToolParserDeps, ToolParserKind } from './types.js';

const BOT = '<|python_tag|>';

/** name and arguments of one decoded object, or throws as vLLM's KeyError / pydantic would. */
function callOf(v: PyValue): { name: string; arguments: string } {
  if (v.t !== 'dict') throw new TypeError('not an object');
  const name = v.v.get('name');
  const args = v.v.has('arguments') ? v.v.get('arguments') : v.v.get('parameters');
  if (name?.t !== 'str' || args === undefined) throw new TypeError('no name or arguments');
  return { name: name.v, arguments: pyDumps(args) };
}

export function extractLlama3Json(text: string, deps: ToolParserDeps): ExtractedToolCalls {
  if (!text.includes(BOT) && !text.includes('{')) return { toolsCalled: false, calls: [], content: text };
  const calls: ToolCallOut[] = [];
  let end = -1;
  try {
    for (let at = text.indexOf('{'); at >= 0; at = text.indexOf('{', at + 1)) {
      if (at <= end) continue;
      const decoded = pyRawDecode(text, at);
      end = decoded.end;
      calls.push({ id: deps.newId(), type: 'function', function: callOf(decoded.value) });
      at = end - 1;
    }
  } catch {
    return { toolsCalled: false, calls: [], content: text };
  }
  if (calls.length === 0) return { toolsCalled: false, calls: [], content: text };
  return { toolsCalled: true, calls, content: null };
}

class Llama3JsonStream implements StreamToolParser {
  private readonly text = new TextRope();
  /** null until the answer's start decides it: calls or plain content. */
  private mode: 'calls' | 'content' | null = null;
  private sentContent = 0;
  /** Where the next object starts (calls mode), and the scan state of the current one. */
  private pos = 0;
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  private index = -1;
  private stopped = false;

  constructor(private readonly deps: ToolParserDeps) {}

  push(delta: string): StreamPiece {
    this.text.append(delta);
    if (this.mode === null) this.decide(false);
    if (this.mode === 'content') return { content: this.flushContent(), toolCalls: [] };
    if (this.mode === 'calls') return { content: '', toolCalls: this.calls() };
    return { content: '', toolCalls: [] };
  }

  end(): StreamPiece {
    if (this.mode === null) this.decide(true);
    return { content: this.mode === 'content' ? this.flushContent() : '', toolCalls: [] };
  }

  private decide(atEnd: boolean): void {
    const head = this.text.slice(0, BOT.length);
    if (head.startsWith('{')) this.mode = 'calls';
    else if (head.startsWith(BOT)) {
      this.mode = 'calls';
      this.pos = this.scanned = BOT.length;
    } else if (atEnd || head.length >= BOT.length || !BOT.startsWith(head)) this.mode = 'content';
  }

  private flushContent(): string {
    const out = this.text.slice(this.sentContent, this.text.length);
    this.sentContent = this.text.length;
    return out;
  }

  private calls(): ToolCallDelta[] {
    const out: ToolCallDelta[] = [];
    while (!this.stopped && this.scanned < this.text.length) {
      const piece = this.text.slice(this.scanned, this.text.length);
      let closedAt = -1;
      for (let k = 0; k < piece.length && closedAt < 0; k++) {
        const c = piece[k]!;
        const i = this.scanned + k;
        if (!this.started) {
          if (c !== '{') {
            this.stopped = true; // vLLM's partial parser fails here: nothing more streams
            return out;
          }
          this.started = true;
          this.pos = i;
        }
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === '\\') this.escaped = true;
          else if (c === '"') this.inString = false;
        } else if (c === '"') this.inString = true;
        else if (c === '{' || c === '[') this.depth++;
        else if (c === '}' || c === ']') {
          this.depth--;
          if (this.depth === 0) closedAt = i + 1;
        }
      }
      if (closedAt < 0) {
        this.scanned = this.text.length;
        return out;
      }
      try {
        const call = callOf(pyLoads(this.text.slice(this.pos, closedAt)));
        this.index++;
        out.push({ index: this.index, type: 'function', id: this.deps.newId(), function: { name: call.name } });
        out.push({ index: this.index, function: { arguments: call.arguments } });
      } catch {
        this.stopped = true;
        return out;
      }
      // The next object starts after "; " (vLLM skips exactly two characters).
      this.scanned = closedAt + 2;
      this.started = false;
      this.text.dropBefore(closedAt);
    }
    return out;
  }
}

export const llama3Json: ToolParserKind = {
  extract: extractLlama3Json,
  stream: (deps) => new Llama3JsonStream(deps),
};
