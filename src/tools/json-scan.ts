/**
 * Incremental helpers the streaming tool parsers share, so that a call whose text grows one
 * token at a time costs linear time in all, not a re-scan of the whole call per token (vLLM's
 * own streaming parsers re-read the whole text on every token; a hostile 100 kB argument
 * would make that quadratic here).
 */
import { isCompleteJson } from './py-json.js';

/**
 * Tracks where the first JSON value of a growing text ends (outside strings, depth back to 0)
 * and whether that value is valid, parsing it at most once. `isCompleteAt(L)`: the text's first
 * L characters, stripped, are one complete JSON value (vLLM's `is_complete_json(tc_json)` for a
 * `tc_json` that starts with `{` or `[`).
 */
export class FirstValueScanner {
  /** The text of the first value so far, kept only until it ends (parsed once then). */
  private chunks: string[] = [];
  private length = 0;
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private end = -1;
  private valid = false;
  /** First non-whitespace index after `end` (-1: none yet). */
  private after = -1;
  private scalar = false;

  append(delta: string): void {
    const base = this.length;
    this.length += delta.length;
    if (this.after >= 0 || this.scalar) return;
    if (this.end < 0) this.chunks.push(delta);
    for (let k = 0; k < delta.length; k++) {
      const c = delta[k]!;
      const i = base + k;
      if (this.end >= 0) {
        if (!isJsonWs(c)) {
          this.after = i;
          return;
        }
        continue;
      }
      if (this.start < 0) {
        if (isJsonWs(c)) continue;
        this.start = i;
        if (c !== '{' && c !== '[') {
          // A top-level scalar: a call's JSON must be an object, so the name never reads from a
          // complete one (a `"name": "x"` after a string scalar is extra data): never complete.
          this.scalar = true;
          this.chunks = [];
          return;
        }
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          this.end = i + 1;
          this.valid = isCompleteJson(this.chunks.join('').slice(this.start, this.end));
          this.chunks = [];
        }
      }
    }
  }

  /** The first `length` characters (trailing whitespace allowed) are exactly one valid value. */
  isCompleteAt(length: number): boolean {
    return !this.scalar && this.valid && this.end <= length && (this.after < 0 || this.after >= length);
  }
}

function isJsonWs(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/**
 * The leftmost match of `re` (which must start with a `"`) in a growing text, searched
 * incrementally: a match that is not complete yet can only start at one of the last
 * `maxQuotes` quote characters (its pending prefix holds at most that many), so earlier text is
 * never searched again.
 */
export class IncrementalSearch {
  private from = 0;
  private found: { index: number; length: number; groups: string[] } | null = null;

  constructor(
    private readonly re: RegExp,
    private readonly maxQuotes: number,
  ) {
    if (!re.global) throw new Error('IncrementalSearch needs a global regex');
  }

  /** `read(from, to)` gives the text's characters [from, to); `length` is its length now. */
  search(read: (from: number, to: number) => string, length: number): { index: number; length: number; groups: string[] } | null {
    if (this.found !== null) return this.found;
    const text = read(this.from, length);
    this.re.lastIndex = 0;
    const m = this.re.exec(text);
    if (m !== null) {
      this.found = { index: this.from + m.index, length: m[0].length, groups: m.slice(1) as string[] };
      return this.found;
    }
    let q = text.length;
    for (let k = 0; k < this.maxQuotes; k++) {
      const at = text.lastIndexOf('"', q - 1);
      if (at < 0) break;
      q = at;
    }
    this.from += q;
    return null;
  }
}
