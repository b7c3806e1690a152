/** Errors made for clients: they carry extensions.code; every other error is masked. */
import { createGraphQLError } from 'graphql-yoga';

export type ClientErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'INVALID_CURSOR'
  | 'TOO_MANY_BUCKETS'
  | 'INVALID_EVENTS'
  | 'TOO_MANY_EVENTS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'NOT_FOUND'
  | 'ALREADY_RESOLVED'
  | 'FILE_TOO_LARGE'
  | 'QUERY_TIMEOUT'
  | 'QUERY_TOO_DEEP'
  | 'TOO_MANY_ALIASES'
  | 'QUERY_TOO_LARGE'
  | 'REQUEST_TOO_LARGE'
  | 'CSRF_HEADER_REQUIRED'
  | 'PERSISTED_QUERY_ONLY'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'FILTER_LIST_TOO_LONG'
  | 'INVALID_CHARACTERS'
  | 'QUERY_TOO_COSTLY';

const HTTP_STATUS: Partial<Record<ClientErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  REQUEST_TOO_LARGE: 413,
  CSRF_HEADER_REQUIRED: 403,
};

export function clientError(
  code: ClientErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
) {
  const status = HTTP_STATUS[code];
  return createGraphQLError(message, {
    extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) },
  });
}
