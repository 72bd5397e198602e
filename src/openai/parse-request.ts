/**
 * The edge every request body passes (DEVELOPERS.md: validate at the edges): a JSON object, no
 * deeper than MAX_JSON_DEPTH, then the route's zod schema. Throws InvalidRequestError (400)
 * naming the first bad field.
 */
import type { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { findTooDeep, MAX_JSON_DEPTH } from './json-depth.js';
import { formatParam, zodToInvalidRequest } from './request-error.js';

/**
 * A top-level `null` counts as absent: the openai SDKs and many clients send explicit nulls
 * for unset options, and the OpenAI API accepts them.
 */
export function parseRequestBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('The request body must be a JSON object.', { code: 'invalid_type' });
  }
  const tooDeep = findTooDeep(body);
  if (tooDeep !== null) {
    // Name the field the client sent (`x`; `messages[3]`, `tools[0]` for an element object),
    // not 65 levels of path.
    const field = typeof tooDeep[1] === 'number' && typeof tooDeep[2] === 'string' ? tooDeep.slice(0, 2) : tooDeep.slice(0, 1);
    throw new InvalidRequestError(`Invalid value for '${formatParam(field)}': nested more than ${MAX_JSON_DEPTH} levels deep.`, {
      param: formatParam(field),
      code: 'invalid_value',
    });
  }
  // fromEntries defines own properties, so a `__proto__` key stays a plain (unknown) key.
  const input = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw zodToInvalidRequest(parsed.error);
  return parsed.data;
}
