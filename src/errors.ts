/**
 * Errors made for clients: they carry extensions.code; every other error is masked. Domain errors
 * (DomainError, from any layer) become client errors here and nowhere else.
 */
import { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { DomainError, type ErrorCode } from './domain.ts';

export type ClientErrorCode = ErrorCode;

const HTTP_STATUS: Partial<Record<ClientErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  REQUEST_TOO_LARGE: 413,
  CSRF_HEADER_REQUIRED: 403,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
  STORE_FAILED: 503,
};

/** A refusal that passes with time says when to come back: `retryAfterSeconds`, also as Retry-After. */
const extensionsOf = (code: ClientErrorCode, details: Record<string, unknown>) => {
  const status = HTTP_STATUS[code];
  const retryAfter = details.retryAfterSeconds;
  const headers = typeof retryAfter === 'number' ? { headers: { 'Retry-After': String(retryAfter) } } : {};
  return { code, ...details, ...(status ? { http: { status, ...headers } } : {}) };
};

export function clientError(
  code: ClientErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
) {
  return createGraphQLError(message, { extensions: extensionsOf(code, extensions) });
}

/**
 * A refusal answered before GraphQL runs (a body too large, an overloaded gateway): its HTTP status and
 * headers, and the GraphQL error body a client reads the code from.
 */
export function refusal(code: ClientErrorCode, message: string, details: Record<string, unknown> = {}) {
  const { http, ...extensions } = extensionsOf(code, details);
  return {
    status: http?.status ?? 400,
    headers: { 'content-type': 'application/json', ...(http && 'headers' in http ? http.headers : {}) },
    body: JSON.stringify({ errors: [{ message, extensions }] }),
  };
}

/**
 * The client error for a domain error, wherever it was thrown (a resolver wraps it in a GraphQLError
 * that knows the path); undefined for any other error.
 */
export function toClientError(error: unknown): GraphQLError | undefined {
  const located = error instanceof GraphQLError ? error : undefined;
  const original = located ? located.originalError : error;
  if (!(original instanceof DomainError)) return undefined;
  return createGraphQLError(original.message, {
    ...(located?.nodes ? { nodes: located.nodes } : {}),
    ...(located?.path ? { path: located.path } : {}),
    originalError: original,
    extensions: extensionsOf(original.code, original.details),
  });
}
