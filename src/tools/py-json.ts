/**
 * JSON as Python's `json` module reads and writes it, for tool-call arguments.
 *
 * vLLM's parsers turn a parsed call back into a string with
 * `json.dumps(obj, ensure_ascii=False)` (tool_parsers/hermes_tool_parser.py, and the
 * `tool_choice: "required"` path in parser/abstract_parser.py). Its output differs from
 * JSON.stringify: `", "` and `": "` separators, object keys in document order (JS objects put
 * integer-like keys first), ints of any size, floats in Python's repr. A client comparing
 * thinkgate's `arguments` with vLLM's byte by byte needs this writer, and a JS object model
 * cannot carry it, so values are parsed into an ordered tree.
 *
 * Bounded: the text is the model's answer (bounded by max_tokens), the depth by MAX_DEPTH, and
 * every step is linear in the text.
 */

export type PyValue =
  | { t: 'null' }
  | { t: 'bool'; v: boolean }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  | { t: 'list'; v: PyValue[] }
  /** Keys in first-insertion order; a repeated key keeps its first position and takes the last value (Python dict). */
  | { t: 'dict'; v: Map<string, PyValue> };

/** Deeper than this is refused as invalid: no call's arguments nest this deep, and recursion stays small. */
export const MAX_DEPTH = 256;

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  fail(): never {
    throw new SyntaxError(`invalid JSON at ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    // Python's json whitespace: space, tab, newline, carriage return.
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.i++;
    }
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail();
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.dict(depth);
    if (c === '[') return this.list(depth);
    if (c === '"') return { t: 'str', v: this.str() };
    if (this.s.startsWith('null', this.i)) return (this.i += 4), { t: 'null' };
    if (this.s.startsWith('true', this.i)) return (this.i += 4), { t: 'bool', v: true };
    if (this.s.startsWith('false', this.i)) return (this.i += 5), { t: 'bool', v: false };
    // Python's json.loads accepts these three by default (allow_nan).
    if (this.s.startsWith('NaN', this.i)) return (this.i += 3), { t: 'float', v: NaN };
    if (this.s.startsWith('Infinity', this.i)) return (this.i += 8), { t: 'float', v: Infinity };
    if (this.s.startsWith('-Infinity', this.i)) return (this.i += 9), { t: 'float', v: -Infinity };
    return this.num();
  }

  dict(depth: number): PyValue {
    const out = new Map<string, PyValue>();
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') return this.i++, { t: 'dict', v: out };
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail();
      const key = this.str();
      this.ws();
      if (this.s[this.i] !== ':') this.fail();
      this.i++;
      out.set(key, this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { t: 'dict', v: out };
      if (c !== ',') this.fail();
    }
  }

  list(depth: number): PyValue {
    const out: PyValue[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') return this.i++, { t: 'list', v: out };
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return { t: 'list', v: out };
      if (c !== ',') this.fail();
    }
  }

  str(): string {
    // Python's scanner: control characters are refused inside strings (strict=True).
    const start = this.i;
    const end = scanString(this.s, start);
    if (end < 0) this.fail();
    this.i = end;
    try {
      return JSON.parse(this.s.slice(start, end)) as string;
    } catch {
      this.fail();
    }
  }

  num(): PyValue {
    const m = NUMBER.exec(this.s.slice(this.i, this.i + 4096));
    if (m === null || m[0] === '') this.fail();
    const lit = m[0];
    this.i += lit.length;
    if (m[1] === undefined && m[2] === undefined) return { t: 'int', v: BigInt(lit) };
    return { t: 'float', v: Number(lit) };
  }
}

/** JSON's number grammar; groups 1 and 2 (fraction, exponent) make it a Python float. */
const NUMBER = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/;

/** The index just past the closing quote of the string starting at `start`, or -1 (unterminated or a raw control char). */
export function scanString(s: string, start: number): number {
  let i = start + 1;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) i += 2;
    else if (c < 0x20) return -1;
    else i++;
  }
  return -1;
}

/** `json.loads(text)`: one value with only whitespace around it. Throws SyntaxError. */
export function pyLoads(text: string): PyValue {
  const r = new Reader(text);
  const v = r.value(0);
  r.ws();
  if (r.i !== text.length) r.fail();
  return v;
}

/**
 * `json.JSONDecoder().raw_decode(text[start:])`: one value starting exactly at `start` (no
 * leading whitespace), trailing text allowed. Returns the value and the index just past it.
 */
export function pyRawDecode(text: string, start: number): { value: PyValue; end: number } {
  const r = new Reader(text);
  r.i = start;
  if (r.s[start] === ' ' || r.s[start] === '\t' || r.s[start] === '\n' || r.s[start] === '\r') r.fail();
  const value = r.value(0);
  return { value, end: r.i };
}

/** `json.loads` succeeds (vllm/tool_parsers/utils.py is_complete_json). */
export function isCompleteJson(text: string): boolean {
  try {
    pyLoads(text);
    return true;
  } catch {
    return false;
  }
}

/** `json.dumps(v, ensure_ascii=False)`. */
export function pyDumps(v: PyValue): string {
  switch (v.t) {
    case 'null':
      return 'null';
    case 'bool':
      return v.v ? 'true' : 'false';
    case 'int':
      return v.v.toString();
    case 'float':
      return pyFloatRepr(v.v);
    case 'str':
      return pyStr(v.v);
    case 'list':
      return `[${v.v.map(pyDumps).join(', ')}]`;
    case 'dict':
      return `{${[...v.v].map(([k, x]) => `${pyStr(k)}: ${pyDumps(x)}`).join(', ')}}`;
  }
}

/**
 * A string as json.dumps writes it with ensure_ascii=False: `"` `\` and the control characters
 * escaped (\n \r \t \b \f by name, the rest as \u00XX), everything else as is. JSON.stringify
 * agrees except for lone surrogates, which it escapes and Python writes raw; a lone surrogate
 * cannot come out of JSON.parse of model text unless the model wrote the escape, and then
 * both write the escape back.
 */
function pyStr(s: string): string {
  return JSON.stringify(s);
}

/** Python's float repr: shortest round-trip digits, scientific below 1e-4 and from 1e16, always a `.0` or exponent. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : `${Math.abs(exp)}`;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac === '' ? '0' : frac}`;
}
