/** The Pothos builder and its plugins; types live in their own files. */
import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { authScopesOf } from '../auth/principal.ts';
import type { GatewayContext } from '../context.ts';
import { DEFAULT_PAGE_SIZE } from '../db/repositories/pagination.ts';
import { clientError } from '../errors.ts';

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  AuthScopes: { viewer: boolean; ingestor: boolean; analyst: boolean; admin: boolean };
  Scalars: {
    // Output: exposure fields of type timestamptz are ISO text, as events carry them.
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    IPAddress: { Input: string; Output: string };
    File: { Input: File; Output: never };
  };
  Connection: { totalCount: number | (() => Promise<number>) };
  // Fields are non-null unless they say otherwise, as in the contract.
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [ScopeAuthPlugin, ComplexityPlugin, RelayPlugin, DataloaderPlugin],
  complexity: {
    // Every field costs 1; what a field selects costs once per row it may return: a page size for a
    // connection (first or last, else its default), ten for other lists.
    fieldComplexity: (args, _context, field) => {
      const pageSize = [args.first, args.last].find((n): n is number => typeof n === 'number');
      if (field.args.some((arg) => arg.name === 'first' || arg.name === 'last')) {
        return { field: 1, multiplier: Math.max(1, pageSize ?? DEFAULT_PAGE_SIZE) };
      }
      // A connection's edges are its rows, already counted by the page size.
      return field.name === 'edges' ? { field: 1, multiplier: 1 } : 1;
    },
    limit: (context) => ({ complexity: context.config.limits.maxCost }),
    complexityError: (_kind, result) =>
      clientError(
        'QUERY_TOO_COSTLY',
        `the query costs ${result.complexity}, more than the limit of ${result.maxComplexity}: ask for smaller pages or fewer fields`,
        { cost: result.complexity, limit: result.maxComplexity },
      ),
  },
  scopeAuth: {
    // A subscription is refused when it opens, not when its first event arrives.
    authorizeOnSubscribe: true,
    authScopes: (context) => authScopesOf(context.principal),
    unauthorizedError: (_parent, context, info) =>
      clientError(
        'FORBIDDEN',
        `the caller's roles (${context.principal.roles.join(', ') || 'none'}) do not allow ${info.parentType.name}.${info.fieldName}`,
      ),
  },
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
    nodeQueryOptions: {
      description: "The node with this global id, or null when it does not exist in the caller's scope.",
    },
    nodeTypeOptions: { description: 'An object with a global id, resolvable through Query.node.' },
    // A malformed id is the client's error, with a code like every other.
    decodeGlobalID: (globalID: string) => {
      const text = Buffer.from(globalID, 'base64').toString('utf8');
      const colon = text.indexOf(':');
      if (colon <= 0 || Buffer.from(text).toString('base64') !== globalID) {
        throw clientError('BAD_USER_INPUT', `"${globalID}" is not a global id of this API`);
      }
      return { typename: text.slice(0, colon), id: text.slice(colon + 1) };
    },
  },
});

builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: 'How many nodes match in all, across every page (exact).',
    // Counted only when asked for: the count is a query of its own.
    resolve: (connection) =>
      typeof connection.totalCount === 'function' ? connection.totalCount() : connection.totalCount,
  }),
);
