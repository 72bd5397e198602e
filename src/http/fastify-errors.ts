/**
 * Fastify's own errors (body parsing, size limit, unknown routes) -> the error hierarchy, so
 * that app.ts has exactly one place that renders errors (docs/architecture.md, "One error hierarchy").
 */
import {
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  ThinkgateError,
  toThinkgateError,
} from '../errors.js';

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
}

export function fromFastifyError(err: unknown, bodyLimitBytes: number): ThinkgateError {
  if (err instanceof ThinkgateError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as FastifyLikeError;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(`The request body is larger than the limit of ${bodyLimitBytes} bytes.`, {
        code: 'request_too_large',
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError(
        'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.',
        { code: 'invalid_json' },
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidRequestError(e.message ?? 'Bad request.', { code: 'invalid_request' });
  }
  if (err instanceof SyntaxError) {
    return new InvalidRequestError('We could not parse the JSON body of your request.', { code: 'invalid_json' });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 404) return new NotFoundError(e.message ?? 'Not found.');
    return new InvalidRequestError(e.message ?? 'Bad request.');
  }
  return toThinkgateError(err);
}

/**
 * Fastify's JSON parser (secure-json-parse, protoAction/constructorAction 'error') refuses a body
 * holding a `__proto__` key or a `constructor` object with a `prototype` key, and reports it as
 * unparseable JSON. Such a body is valid JSON that thinkgate refuses on purpose (prototype
 * poisoning: docs/api.md, "Request bodies"), so the client is told which key, by its path in
 * `param`. Called only on the parser's error path, where the second parse costs nothing a valid
 * request pays; JSON.parse keeps `__proto__` as an own data key, so walking it is safe.
 */
export function refusedKeyError(body: string): InvalidRequestError | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined; // malformed after all: the parser's own error stands
  }
  const param = forbiddenKeyPath(value, '');
  if (param === undefined) return undefined;
  return new InvalidRequestError(
    `The JSON body holds a forbidden key at ${param}: '__proto__', and 'prototype' inside 'constructor', are refused (prototype poisoning).`,
    { param, code: 'forbidden_json_key' },
  );
}

function forbiddenKeyPath(value: unknown, path: string): string | undefined {
  // Iterative, with the parsed body's own depth: the depth bound (json-depth.ts) has not run yet.
  const stack: [unknown, string][] = [[value, path]];
  while (stack.length > 0) {
    const [v, p] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${p}[${i}]`]);
      continue;
    }
    const entries = Object.entries(v);
    for (const [k, child] of entries) {
      const at = p === '' ? k : `${p}.${k}`;
      if (k === '__proto__') return at;
      if (k === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype')) return `${at}.prototype`;
    }
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      stack.push([child, p === '' ? k : `${p}.${k}`]);
    }
  }
  return undefined;
}
