/**
 * `--tool-call-parser deepseek_v3` (DeepSeek-V3, DeepSeek-R1-0528): a port of vLLM 0.32's
 * vllm/tool_parsers/deepseekv3_tool_parser.py.
 *
 *   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
 *
 * Non-stream: vLLM's regex (no DOTALL, so `.` stops at a newline: `[^\n]` here, since JS's `.`
 * also stops at \r and U+2028/9) finds every call; `type` must be "function" (pydantic's
 * ToolCall refuses anything else, and then vLLM returns the whole text as content); `arguments`
 * is the raw text, not re-serialized. Content is the text before `<｜tool▁calls▁begin｜>`.
 *
 * Stream: content up to the calls' begin marker, then per call one delta with id, type and
 * name once `<｜tool▁sep｜>NAME\n` is complete, then the argument text between "```json\n" and
 * "\n```<｜tool▁call▁end｜>" as it grows. vLLM's own streaming reader works on token ids and
 * slices its deltas differently; the concatenated name and arguments are the same.
 */
import {
  partialTagOverlap,
  type ExtractedToolCalls,
  type StreamPiece,
  type StreamToolParser,
  type ToolCallDelta,
  type ToolParserDeps,
  type ToolParserKind,
} from './types.js';
import { TextRope } from './text-rope.js';

const CALLS_BEGIN = '<｜tool▁calls▁begin｜>';
const CALL_BEGIN = '<｜tool▁call▁begin｜>';
const CALL_END = '<｜tool▁call▁end｜>';
const SEP = '<｜tool▁sep｜>';
const ARGS_OPEN = '\n```json\n';
const ARGS_CLOSE = '\n```' + CALL_END;

const CALL_RE = /<｜tool▁call▁begin｜>([^\n]*)<｜tool▁sep｜>([^\n]*)\n```json\n([^\n]*)\n```<｜tool▁call▁end｜>/g;

export function extractDeepseekV3(text: string, deps: ToolParserDeps): ExtractedToolCalls {
  const first = text.indexOf(CALLS_BEGIN);
  if (first < 0) return { toolsCalled: false, calls: [], content: text };
  const matches = [...text.matchAll(CALL_RE)];
  if (matches.some((m) => m[1] !== 'function')) return { toolsCalled: false, calls: [], content: text };
  const calls = matches.map((m) => ({ id: deps.newId(), type: 'function' as const, function: { name: m[2]!, arguments: m[3]! } }));
  const content = text.slice(0, first);
  return { toolsCalled: true, calls, content: content === '' ? null : content };
}

class DeepseekV3Stream implements StreamToolParser {
  /** The answer so far, as chunks (text-rope.ts: reads near the end stay cheap). */
  private readonly text = new TextRope();
  private sentContent = 0;
  private begin = -1;
  /** Scan position inside the calls section. */
  private pos = 0;
  private index = -1;
  /** Current call: where its argument text starts, and how much of it was sent. */
  private argsStart = -1;
  private argsSent = 0;

  constructor(private readonly deps: ToolParserDeps) {}

  push(delta: string): StreamPiece {
    const from = Math.max(0, this.text.length - CALLS_BEGIN.length);
    this.text.append(delta);
    const len = this.text.length;
    if (this.begin < 0) {
      const at = this.text.indexOf(CALLS_BEGIN, from);
      if (at >= 0) {
        this.begin = at;
        this.pos = at + CALLS_BEGIN.length;
      }
    }
    const sendable = this.begin >= 0 ? this.begin : len - partialTagOverlap(this.text.slice(len - CALLS_BEGIN.length, len), CALLS_BEGIN);
    let content = '';
    if (sendable > this.sentContent) {
      content = this.text.slice(this.sentContent, sendable);
      this.sentContent = sendable;
    }
    return { content, toolCalls: this.begin < 0 ? [] : this.calls() };
  }

  end(): StreamPiece {
    const len = this.text.length;
    if (this.begin >= 0 || this.sentContent >= len) return { content: '', toolCalls: [] };
    const content = this.text.slice(this.sentContent, len);
    this.sentContent = len;
    return { content, toolCalls: [] };
  }

  private calls(): ToolCallDelta[] {
    const out: ToolCallDelta[] = [];
    const t = this.text;
    for (;;) {
      const len = t.length;
      if (this.argsStart < 0) {
        // Looking for the next call's header: <｜tool▁call▁begin｜>TYPE<｜tool▁sep｜>NAME\n```json\n
        const callAt = t.indexOf(CALL_BEGIN, this.pos);
        if (callAt < 0) {
          this.pos = Math.max(this.pos, len - CALL_BEGIN.length + 1);
          return out;
        }
        // The header is read from the call's start until it is complete (headers are short).
        this.pos = callAt;
        const sepAt = t.indexOf(SEP, callAt + CALL_BEGIN.length);
        if (sepAt < 0) return out;
        const nameEnd = t.indexOf('\n', sepAt + SEP.length);
        if (nameEnd < 0) return out;
        const open = t.slice(nameEnd, nameEnd + ARGS_OPEN.length);
        if (open !== ARGS_OPEN) {
          if (open.length < ARGS_OPEN.length && ARGS_OPEN.startsWith(open)) return out;
          // Not the call format: skip this marker.
          this.pos = callAt + CALL_BEGIN.length;
          continue;
        }
        this.index++;
        out.push({ index: this.index, type: 'function', id: this.deps.newId(), function: { name: t.slice(sepAt + SEP.length, nameEnd) } });
        this.argsStart = nameEnd + ARGS_OPEN.length;
        this.argsSent = this.argsStart;
      }
      const closeAt = t.indexOf(ARGS_CLOSE, Math.max(this.argsStart, this.argsSent - ARGS_CLOSE.length));
      const sendable = closeAt >= 0 ? closeAt : len - partialTagOverlap(t.slice(Math.max(this.argsSent, len - ARGS_CLOSE.length), len), ARGS_CLOSE);
      if (sendable > this.argsSent) {
        out.push({ index: this.index, function: { arguments: t.slice(this.argsSent, sendable) } });
        this.argsSent = sendable;
      }
      if (closeAt < 0) return out;
      this.pos = closeAt + ARGS_CLOSE.length;
      this.argsStart = -1;
      t.dropBefore(this.pos);
    }
  }
}

export const deepseekV3: ToolParserKind = {
  extract: extractDeepseekV3,
  stream: (deps) => new DeepseekV3Stream(deps),
};
