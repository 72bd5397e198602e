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
