/**
 * The answers of `tool_choice: "required"` and a named `tool_choice`, read as vLLM 0.32 reads them
 * when the grammar is the tools' JSON schema (parser/abstract_parser.py `_extract_tool_calls`,
 * tool_parsers/streaming.py): a named choice's answer IS the arguments; a required choice's
 * answer is a JSON array of `{"name": ..., "parameters": ...}`.
 */
import { pyDumps, pyLoads } from './py-json.js';
import { TextRope } from './text-rope.js';
import type { ExtractedToolCalls, StreamPiece, StreamToolParser, ToolCallDelta, ToolCallOut, ToolParserDeps } from './types.js';

/** Named: the whole answer is one call's arguments; a blank answer is no call. */
export function extractNamed(text: string, name: string, deps: ToolParserDeps): ExtractedToolCalls {
  if (text.trim() === '') return { toolsCalled: false, calls: [], content: null };
  return { toolsCalled: true, calls: [{ id: deps.newId(), type: 'function', function: { name, arguments: text } }], content: null };
}

/** Required: `TypeAdapter(list[FunctionDefinition]).validate_json(content)`; invalid is no call. */
export function extractRequired(text: string, deps: ToolParserDeps): ExtractedToolCalls {
  const calls: ToolCallOut[] = [];
  try {
    const v = pyLoads(text);
    if (v.t !== 'list') throw new TypeError('not a list');
    const parsed = v.v.map((item) => {
      if (item.t !== 'dict') throw new TypeError('not an object');
      const name = item.v.get('name');
      const params = item.v.get('parameters') ?? { t: 'null' as const };
      // FunctionDefinition: name: str, parameters: dict | None.
      if (name?.t !== 'str' || (params.t !== 'dict' && params.t !== 'null')) throw new TypeError('bad call');
      return { name: name.v, arguments: pyDumps(params) };
    });
    for (const p of parsed) calls.push({ id: deps.newId(), type: 'function', function: p });
  } catch {
    return { toolsCalled: false, calls: [], content: null };
  }
  return { toolsCalled: calls.length > 0, calls, content: null };
}

/** Named, streamed: the first piece carries id, type, name and its text as arguments; later pieces their text. */
export class NamedStream implements StreamToolParser {
  private started = false;
  constructor(
    private readonly name: string,
    private readonly deps: ToolParserDeps,
  ) {}

  push(delta: string): StreamPiece {
    if (delta === '') return { content: '', toolCalls: [] };
    if (this.started) return { content: '', toolCalls: [{ index: 0, function: { arguments: delta } }] };
    this.started = true;
    return { content: '', toolCalls: [{ index: 0, id: this.deps.newId(), type: 'function', function: { name: this.name, arguments: delta } }] };
  }

  end(): StreamPiece {
    return { content: '', toolCalls: [] };
  }
}

interface Span {
  name: string | null;
  nameEnd: number;
  argsStart: number;
  argsEnd: number;
  /** How far this call's arguments were sent; -1 before its first delta. */
  sent: number;
}

const EXPECT_KEY = 0;
const EXPECT_COLON = 1;
const EXPECT_VALUE = 2;
const IN_STRING_VALUE = 3;
const IN_CONTAINER_VALUE = 4;
const IN_SCALAR_VALUE = 5;
const AFTER_VALUE = 6;

/**
 * Required, streamed: vLLM's `_scan_required_tool_calls` as an incremental scanner (its spans are
 * prefix-stable, so one left-to-right pass over each new piece suffices), and
 * `extract_required_tool_call_streaming`'s emission: a call is announced (id, name, its arguments
 * so far) once its name is complete and its `parameters` value has started.
 */
export class RequiredStream implements StreamToolParser {
  /** The answer as chunks (text-rope.ts): each push costs its own size. */
  private readonly text = new TextRope();
  private readonly spans: Span[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  private stringStart = 0;
  private cur: Span | null = null;
  private expect = EXPECT_KEY;
  private key: string | null = null;
  private valueStart = 0;
  private done = false;
  private emitFrom = 0;

  constructor(private readonly deps: ToolParserDeps) {}

  push(delta: string): StreamPiece {
    const from = this.text.length;
    this.text.append(delta);
    if (!this.done) this.scan(delta, from);
    return { content: '', toolCalls: this.emit() };
  }

  end(): StreamPiece {
    return { content: '', toolCalls: [] };
  }

  private emit(): ToolCallDelta[] {
    const out: ToolCallDelta[] = [];
    for (let index = this.emitFrom; index < this.spans.length; index++) {
      const s = this.spans[index]!;
      if (s.name === null || s.argsStart < 0) break;
      const end = s.argsEnd >= 0 ? s.argsEnd : this.text.length;
      if (s.sent < 0) {
        out.push({ index, id: this.deps.newId(), type: 'function', function: { name: s.name, arguments: this.text.slice(s.argsStart, end) } });
      } else if (end > s.sent) {
        out.push({ index, function: { arguments: this.text.slice(s.sent, end) } });
      }
      s.sent = end;
      // A finished call never changes again: later pushes start after it (linear in all).
      if (s.argsEnd >= 0 && index === this.emitFrom) this.emitFrom++;
    }
    return out;
  }

  private endValue(pos: number): void {
    const cur = this.cur!;
    if (this.key === 'parameters') cur.argsEnd = pos;
    else if (this.key === 'name' && this.expect === IN_STRING_VALUE) {
      try {
        cur.name = JSON.parse(this.text.slice(this.valueStart, pos)) as string;
        cur.nameEnd = pos;
      } catch {
        cur.name = null;
      }
    }
    this.expect = AFTER_VALUE;
  }

  private startValue(pos: number, state: number): void {
    this.valueStart = pos;
    if (this.key === 'parameters') this.cur!.argsStart = pos;
    this.expect = state;
  }

  private scan(delta: string, from: number): void {
    for (let k = 0; k < delta.length; k++) {
      const ch = delta[k]!;
      const i = from + k;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') {
          this.inString = false;
          if (this.depth === 2 && this.cur !== null) {
            if (this.expect === EXPECT_KEY) {
              this.key = this.text.slice(this.stringStart + 1, i);
              this.expect = EXPECT_COLON;
            } else if (this.expect === IN_STRING_VALUE) this.endValue(i + 1);
          }
        }
        continue;
      }
      if (ch === '"') {
        this.inString = true;
        this.stringStart = i;
        if (this.depth === 2 && this.cur !== null && this.expect === EXPECT_VALUE) this.startValue(i, IN_STRING_VALUE);
        continue;
      }
      if (ch === '{' || ch === '[') {
        if (this.depth === 0) {
          if (ch !== '[') return this.stop();
        } else if (this.depth === 1) {
          if (ch !== '{') return this.stop();
          this.cur = { name: null, nameEnd: -1, argsStart: -1, argsEnd: -1, sent: -1 };
          this.spans.push(this.cur);
          this.expect = EXPECT_KEY;
          this.key = null;
        } else if (this.depth === 2 && this.cur !== null && this.expect === EXPECT_VALUE) this.startValue(i, IN_CONTAINER_VALUE);
        this.depth++;
        continue;
      }
      if (ch === '}' || ch === ']') {
        if (this.depth === 2 && this.cur !== null && this.expect === IN_SCALAR_VALUE) this.endValue(i);
        this.depth--;
        if (this.depth === 2 && this.cur !== null && this.expect === IN_CONTAINER_VALUE) this.endValue(i + 1);
        else if (this.depth === 1) this.cur = null;
        else if (this.depth <= 0) return this.stop();
        continue;
      }
      if (this.depth !== 2 || this.cur === null) continue;
      if (ch === ':') {
        if (this.expect === EXPECT_COLON) this.expect = EXPECT_VALUE;
      } else if (ch === ',') {
        if (this.expect === IN_SCALAR_VALUE) this.endValue(i);
        this.expect = EXPECT_KEY;
        this.key = null;
      } else if (/\s/.test(ch)) {
        if (this.expect === IN_SCALAR_VALUE) this.endValue(i);
      } else if (this.expect === EXPECT_VALUE) this.startValue(i, IN_SCALAR_VALUE);
    }
  }

  private stop(): void {
    this.done = true;
  }
}
