/**
 * The field table (field-table.ts) applied to a request: which fields reach vLLM on every
 * segment, and which are refused (docs/api.md, docs/upstream-protocol.md).
 */
import { InvalidRequestError } from '../errors.js';
import { FIELD_TABLE, type Endpoint, type FieldRule } from './field-table.js';

/** Whether a field with this rule (none: not in the table) goes out on every segment as is. */
export function forwardedPerSegment(rule: FieldRule | undefined): boolean {
  // Not in the table: vLLM is the judge (field-table.ts: newer extras work, unknown ones are ignored by vLLM).
  if (rule === undefined) return true;
  return rule.column === 'segment';
}

const OTHER: Readonly<Record<Endpoint, Endpoint>> = { chat: 'completions', completions: 'chat' };

/**
 * The client's `segment` fields and unknown fields, passed as is to every segment. A field of the
 * OTHER endpoint only (chat's `suffix`, `prompt_embeds`, `best_of`; completions' `messages`,
 * `max_completion_tokens`) is not unknown: the segments are /v1/completions calls, where chat's
 * strays would gain a meaning they do not have on vLLM's chat endpoint, which ignores them. So
 * they are not sent, as vLLM's own endpoint would ignore them.
 */
export function samplingFields(req: Readonly<Record<string, unknown>>, endpoint: Endpoint): Record<string, unknown> {
  const table = FIELD_TABLE[endpoint];
  const other = FIELD_TABLE[OTHER[endpoint]];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(req)) {
    const value = req[key];
    const rule = table[key];
    if (value === undefined || !forwardedPerSegment(rule)) continue;
    if (rule === undefined && other[key] !== undefined) continue;
    // Assigning a JSON `__proto__` key would set `out`'s prototype, not a field; no vLLM field has that name.
    if (key === '__proto__') continue;
    out[key] = value;
  }
  return out;
}

/**
 * Throws a 400 naming the first `refused` field the request sets to anything but the value
 * the table still accepts (vLLM's default, which the openai SDKs and harnesses may send).
 * Explicit nulls never get here (parse-request.ts drops them: null means "absent").
 */
export function checkRefusedFields(req: Readonly<Record<string, unknown>>, endpoint: Endpoint): void {
  const table = FIELD_TABLE[endpoint];
  for (const key of Object.keys(req)) {
    const rule = table[key];
    const value = req[key];
    if (rule?.column !== 'refused' || value === undefined) continue;
    if (rule.accepts?.(value) === true) continue;
    throw new InvalidRequestError(`'${key}' is not supported by thinkgate: ${rule.why}.`, {
      param: key,
      code: 'unsupported_parameter',
    });
  }
}
