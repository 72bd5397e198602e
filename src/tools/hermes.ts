/**
 * `--tool-call-parser hermes` (Qwen3, QwQ, Hermes 2 Pro): `<tool_call>{"name": ..., "arguments":
 * ...}</tool_call>`, a port of vLLM 0.32's vllm/tool_parsers/hermes_tool_parser.py.
 *
 * Non-stream (`extract_tool_calls`): every `<tool_call>` region (to its `</tool_call>`, or to
 * the end when unterminated) must be a JSON object with `name` (a string) and `arguments`;
 * `arguments` is re-serialized as `json.dumps(..., ensure_ascii=False)`. One bad region and
 * vLLM returns no calls and the whole text as content. Content is the text before the first
 * `<tool_call>` (text between or after calls is dropped, as vLLM drops it).
 *
 * Stream (`extract_tool_calls_streaming`): content up to the first `<tool_call>` (a suffix that
 * may be a partial tag is held back); per region, once its name is readable, one delta with id,
 * type and name, then the raw argument text as it grows (the text after `"arguments":`, less
 * the object's closing `}` once the region is complete JSON). Regions are processed in order and
 * a region without a readable name stops the ones after it, as in vLLM.
 */
import { pyDumps, pyLoads, type PyValue } from './py-json.js';
import { FirstValueScanner, IncrementalSearch } from './json-scan.js';
import { TextRope } from './text-rope.js';
import {
  partialTagOverlap,
  type ExtractedToolCalls,
  type StreamPiece,
  type StreamToolParser,
  type ToolCallDelta,
  type ToolCallOut,
  type ToolParserDeps,
  type ToolParserKind,
} from './types.js';

const START = '<tool_call>';
const END = '</tool_call>';

export function extractHermes(text: string, deps: ToolParserDeps): ExtractedToolCalls {
  const first = text.indexOf(START);
  if (first < 0) return { toolsCalled: false, calls: [], content: text };
  const calls: ToolCallOut[] = [];
  let pos = first;
  try {
    for (;;) {
      const start = text.indexOf(START, pos);
      if (start < 0) break;
      const bodyStart = start + START.length;
      const end = text.indexOf(END, bodyStart);
      const body = end < 0 ? text.slice(bodyStart) : text.slice(bodyStart, end);
      calls.push(toCall(pyLoads(body), deps));
      if (end < 0) break;
      pos = end + END.length;
    }
  } catch {
    return { toolsCalled: false, calls: [], content: text };
  }
  const content = text.slice(0, first);
  return { toolsCalled: true, calls, content: content === '' ? null : content };
}

/** `function_call["name"]`, `function_call["arguments"]` as vLLM reads them; anything else throws. */
function toCall(v: PyValue, deps: ToolParserDeps): ToolCallOut {
  if (v.t !== 'dict') throw new TypeError('not an object');
  const name = v.v.get('name');
  const args = v.v.get('arguments');
  // pydantic's FunctionCall(name: str) refuses a non-string name; a missing key is a KeyError.
  if (name?.t !== 'str' || args === undefined) throw new TypeError('no name or arguments');
  return { id: deps.newId(), type: 'function', function: { name: name.v, arguments: pyDumps(args) } };
}

interface Region {
  /** Absolute index of the body's first character. */
  bodyStart: number;
  /** Absolute index of `</tool_call>` once seen. */
  end: number;
  /** Where the next search for `</tool_call>` starts. */
  endFrom: number;
  scanner: FirstValueScanner;
  /** Body characters fed to the scanner (and to `lastNonWs`). */
  scanned: number;
  /** Leading whitespace of the body (vLLM strips it); -1 until a non-space arrives. */
  lead: number;
  /** Body-relative index just past the last non-whitespace character fed so far. */
  strippedEnd: number;
  nameSearch: IncrementalSearch;
  argsSearch: IncrementalSearch;
  name: string | null;
  /** Body-relative start of the argument text (after `"arguments":` and spaces); -1 until known. */
  argsStart: number;
  streamedArgs: number;
}

class HermesStream implements StreamToolParser {
  /** The answer so far; text before a finished call is dropped (a long answer stays linear). */
  private readonly text = new TextRope();
  private sentContent = 0;
  private firstStart = -1;
  private regions: Region[] = [];
  /** Call index of regions[0] (regions before it were finished and dropped). */
  private indexBase = 0;
  /** Regions before this one are closed and fully sent. */
  private active = 0;
  /** Where to look for the next `<tool_call>` after the last region closed (absolute). */
  private nextScan = 0;

  constructor(private readonly deps: ToolParserDeps) {}

  private get len(): number {
    return this.text.length;
  }

  private tail(n: number): string {
    return this.text.slice(this.len - n, this.len);
  }

  push(delta: string): StreamPiece {
    const from = Math.max(0, this.len - START.length);
    this.text.append(delta);
    if (this.firstStart < 0) {
      const at = this.text.indexOf(START, from);
      if (at >= 0) this.firstStart = at;
    }
    const content = this.content();
    const toolCalls = this.firstStart < 0 ? [] : this.calls();
    return { content, toolCalls };
  }

  end(): StreamPiece {
    // vLLM never sends a held-back partial `<tool_call` at the very end; it is answer text, so we do.
    if (this.firstStart >= 0 || this.sentContent >= this.len) return { content: '', toolCalls: [] };
    const content = this.text.slice(this.sentContent, this.len);
    this.sentContent = this.len;
    return { content, toolCalls: [] };
  }

  private content(): string {
    const sendable = this.firstStart >= 0 ? this.firstStart : this.len - partialTagOverlap(this.tail(START.length), START);
    if (sendable <= this.sentContent) return '';
    const out = this.text.slice(this.sentContent, sendable);
    this.sentContent = sendable;
    return out;
  }

  private calls(): ToolCallDelta[] {
    this.openRegions();
    const out: ToolCallDelta[] = [];
    for (let i = this.active; i < this.regions.length; i++) {
      const r = this.regions[i]!;
      const closed = r.end >= 0;
      const rawEnd = closed ? r.end : this.len - partialTagOverlap(this.text.slice(Math.max(r.bodyStart, this.len - END.length), this.len), END);
      this.feed(r, rawEnd);
      const read = (from: number, to: number) => this.text.slice(r.bodyStart + from, r.bodyStart + to);
      if (r.name === null) {
        const m = r.lead < 0 ? null : r.nameSearch.search(read, r.strippedEnd);
        if (m === null) break; // vLLM: "Can't skip to tool i+1 if i isn't ready"
        r.name = m.groups[0]!;
        out.push({ index: this.indexBase + i, type: 'function', id: this.deps.newId(), function: { name: r.name } });
      }
      const diff = this.argsDiff(r, closed, read);
      if (diff !== '') out.push({ index: this.indexBase + i, function: { arguments: diff } });
      if (closed && i === this.active) this.active++;
    }
    if (this.active === this.regions.length && this.active > 0) this.rebase();
    return out;
  }

  /** Feeds the region's new body text (up to `rawEnd`) to its scanner and whitespace trackers. */
  private feed(r: Region, rawEnd: number): void {
    if (r.bodyStart + r.scanned >= rawEnd) return;
    const piece = this.text.slice(r.bodyStart + r.scanned, rawEnd);
    r.scanner.append(piece);
    for (let k = 0; k < piece.length; k++) {
      if (/\s/.test(piece[k]!)) continue;
      if (r.lead < 0) r.lead = r.scanned + k;
      r.strippedEnd = r.scanned + k + 1;
    }
    r.scanned += piece.length;
  }

  /**
   * The new part of vLLM's `_extract_tool_args(tc_json, is_complete)`: the stripped body's text
   * after `"arguments":` and spaces, less the object's closing `}` once the body is complete JSON.
   */
  private argsDiff(r: Region, closed: boolean, read: (from: number, to: number) => string): string {
    if (r.argsStart < 0) {
      const m = r.argsSearch.search(read, r.strippedEnd);
      if (m === null) return '';
      let at = m.index + m.length;
      while (at < r.strippedEnd && /\s/.test(read(at, at + 1))) at++;
      if (at >= r.strippedEnd) return ''; // nothing after the colon yet (vLLM: raw = "")
      r.argsStart = at;
    }
    // A closed region counts as complete whatever its text (vLLM appends (json, True)).
    const complete = closed || r.scanner.isCompleteAt(r.strippedEnd);
    let end = r.strippedEnd;
    if (complete && read(end - 1, end) === '}') {
      end--;
      while (end > r.argsStart && /\s/.test(read(end - 1, end))) end--;
    }
    end = Math.max(end, r.argsStart);
    if (end - r.argsStart <= r.streamedArgs) return '';
    const diff = read(r.argsStart + r.streamedArgs, end);
    r.streamedArgs = end - r.argsStart;
    return diff;
  }

  /** Every region so far is finished: drop them and the text before the next possible `<tool_call>`. */
  private rebase(): void {
    this.indexBase += this.regions.length;
    this.regions = [];
    this.active = 0;
    this.text.dropBefore(Math.min(this.nextScan, this.len - START.length + 1));
  }

  /** Opens regions for every `<tool_call>` seen and closes them at `</tool_call>`. */
  private openRegions(): void {
    for (;;) {
      const last = this.regions[this.regions.length - 1];
      if (last !== undefined && last.end < 0) {
        const at = this.text.indexOf(END, last.endFrom);
        if (at < 0) {
          last.endFrom = Math.max(last.bodyStart, this.len - END.length + 1);
          return;
        }
        last.end = at;
        this.nextScan = at + END.length;
        continue;
      }
      const start = this.text.indexOf(START, Math.max(this.nextScan, this.indexBase === 0 && last === undefined ? this.firstStart : 0));
      if (start < 0) {
        this.nextScan = Math.max(this.nextScan, this.len - START.length + 1);
        return;
      }
      this.regions.push({
        bodyStart: start + START.length,
        end: -1,
        endFrom: start + START.length,
        scanner: new FirstValueScanner(),
        scanned: 0,
        lead: -1,
        strippedEnd: 0,
        nameSearch: new IncrementalSearch(/"name"\s*:\s*"([^"]+)"/g, 3),
        argsSearch: new IncrementalSearch(/"arguments"\s*:/g, 2),
        name: null,
        argsStart: -1,
        streamedArgs: 0,
      });
      this.nextScan = start + START.length;
    }
  }
}

export const hermes: ToolParserKind = {
  extract: extractHermes,
  stream: (deps) => new HermesStream(deps),
};
