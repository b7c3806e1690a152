/** Limits on the document itself: tokens, depth, aliases, and no field suggestions outside development. */
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import { type ClientErrorCode, clientError } from '../errors.ts';

/** graphql-armor reports limits as syntax errors without a code; clients get one here. */
function rejectWith(code: ClientErrorCode) {
  return [
    (_context: unknown, error: GraphQLError) => {
      throw clientError(code, error.message.replace(/^Syntax Error: /, ''));
    },
  ];
}

export function useLimits(limits: Config['limits']): Plugin[] {
  return [
    // Typed for envelop's bare context; it reads none of it.
    ...(limits.fieldSuggestions ? [] : [blockFieldSuggestionsPlugin() as Plugin]),
    maxTokensPlugin({ n: limits.maxTokens, onReject: rejectWith('QUERY_TOO_LARGE') }),
    maxDepthPlugin({ n: limits.maxDepth, onReject: rejectWith('QUERY_TOO_DEEP') }),
    maxAliasesPlugin({ n: limits.maxAliases, onReject: rejectWith('TOO_MANY_ALIASES') }),
  ];
}
