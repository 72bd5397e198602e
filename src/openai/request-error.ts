/**
 * A zod failure -> one InvalidRequestError naming the FIRST bad field, in the OpenAI style
 * (`param: "messages[0].role"`, `code: "invalid_value"`; openai-python's APIError.param).
 * Clients fix one field at a time, so one precise message beats a list of zod internals.
 */
import type { z } from 'zod';
import { InvalidRequestError } from '../errors.js';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** `['messages', 0, 'role']` -> `messages[0].role` (the OpenAI API's spelling). */
export function formatParam(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The zod error of a failed parse -> the 400 a client sees. */
export function zodToInvalidRequest(error: z.ZodError): InvalidRequestError {
  const first = error.issues[0];
  if (first === undefined) return new InvalidRequestError('Invalid request body.', { code: 'invalid_value' });
  const { issue, path } = deepest(first, first.path);
  // A strict object's stray key is named itself (`reasoning.mode`), not its parent.
  const param = formatParam(issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...path, issue.keys[0]] : path);
  const { message, code } = describe(issue, param);
  return new InvalidRequestError(message, { param: param === '' ? null : param, code });
}

/**
 * A failed union (e.g. `content: string | parts[] | null`) reports every branch. The branch
 * that got furthest into the value (longest path) is the one the client meant: report its
 * issue, so `content[0].text` is named instead of just `content`.
 */
function deepest(issue: Issue, path: Path): { issue: Issue; path: Path } {
  if (issue.code !== 'invalid_union') return { issue, path };
  let best: Issue | undefined;
  for (const branch of issue.errors) {
    const candidate = branch[0];
    if (candidate !== undefined && candidate.path.length > (best?.path.length ?? 0)) best = candidate;
  }
  if (best === undefined) return { issue, path };
  return deepest(best, [...path, ...best.path]);
}

function describe(issue: Issue, param: string): { message: string; code: string } {
  const where = param === '' ? 'the request body' : `'${param}'`;
  // JSON has no undefined: an undefined input is a field the client left out.
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
    return { message: `Missing required parameter: ${where}.`, code: 'missing_required_parameter' };
  }
  switch (issue.code) {
    case 'invalid_type':
      return {
        message: `Invalid type for ${where}: expected ${typeName(issue.expected)}, got ${show(issue.input)}.`,
        code: 'invalid_type',
      };
    case 'too_small':
    case 'too_big': {
      const empty = issue.code === 'too_small' && issue.origin === 'array' && Array.isArray(issue.input) && issue.input.length === 0;
      if (empty) return { message: `Invalid ${where}: empty array. Expected an array with at least ${String(issue.minimum)} item(s).`, code: 'empty_array' };
      return { message: `Invalid value for ${where}: ${bound(issue)}, got ${show(issue.input)}.`, code: 'invalid_value' };
    }
    case 'invalid_value':
      return {
        message: `Invalid value for ${where}: expected one of ${issue.values.map((v) => show(v)).join(', ')}; got ${show(issue.input)}.`,
        code: 'invalid_value',
      };
    default:
      return { message: `Invalid value for ${where}: ${issue.message}`, code: 'invalid_value' };
  }
}

function bound(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const limit = small ? issue.minimum : issue.maximum;
  const op = small ? (issue.inclusive === false ? '>' : '>=') : issue.inclusive === false ? '<' : '<=';
  switch (issue.origin) {
    case 'string':
      return `length must be ${op} ${String(limit)} characters`;
    case 'array':
      return `must have ${op} ${String(limit)} items`;
    default:
      return `must be ${op} ${String(limit)}`;
  }
}

function typeName(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'record' || expected === 'object') return 'an object';
  if (expected === 'array') return 'an array';
  return `a ${expected}`;
}

/** A short, quoted rendering of a client value (never echo a whole prompt back). */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  // JSON.parse turns 1e400 into Infinity, which JSON.stringify would print as "null".
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
