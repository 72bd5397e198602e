/**
 * The edge every request body passes (validate at the edges): a JSON object, then the route's
 * zod schema. Throws InvalidRequestError (400) naming the first bad field. The depth bound
 * (json-depth.ts) is already applied by the app's body parser, for every route.
 */
import type { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { zodToInvalidRequest } from './request-error.js';

/**
 * A top-level `null` counts as absent: the openai SDKs and many clients send explicit nulls
 * for unset options, and the OpenAI API accepts them.
 */
export function parseRequestBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('The request body must be a JSON object.', { code: 'invalid_type' });
  }
  // fromEntries defines own properties, so a `__proto__` key stays a plain (unknown) key.
  const input = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw zodToInvalidRequest(parsed.error);
  return parsed.data;
}
