/**
 * Queries and mutations run compiled by graphql-jit: variable coercion and field execution as generated
 * code, compiled once per parsed document and operation. graphql-js coerces a large input (an ingest batch
 * of thousands of events with 27 typed fields each) field by field through generic code; the compiled
 * coercion does the same checks, calling the same scalar parsers, several times faster.
 *
 * graphql-js stays in charge of everything the compiled code would answer differently:
 * - subscriptions are not compiled;
 * - a document graphql-jit cannot compile runs through graphql-js;
 * - variables the compiled coercion refuses are coerced again by graphql-js, whose errors name the path
 *   of each bad value and keep the scalar's own message (graphql-jit's give neither), so clients get the
 *   same errors as before.
 */
import type { DocumentNode, ExecutionArgs, ExecutionResult, GraphQLSchema } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

type Compiled = CompiledQuery | null;

export function useCompiledExecution(): Plugin {
  // Keyed by the parsed document, which yoga's parser cache hands out again for the same query text.
  const cache = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, Compiled>>>();

  function compiled(args: ExecutionArgs): Compiled {
    let bySchema = cache.get(args.schema);
    if (!bySchema) {
      bySchema = new WeakMap();
      cache.set(args.schema, bySchema);
    }
    let byOperation = bySchema.get(args.document);
    if (!byOperation) {
      byOperation = new Map();
      bySchema.set(args.document, byOperation);
    }
    const name = args.operationName ?? '';
    let entry = byOperation.get(name);
    if (entry === undefined) {
      const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
      entry = isCompiledQuery(result) ? result : null;
      byOperation.set(name, entry);
    }
    return entry;
  }

  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const query = compiled(args);
      if (!query) return;
      setExecuteFn(async (executeArgs) => {
        const result = (await query.query(
          executeArgs.rootValue,
          executeArgs.contextValue,
          executeArgs.variableValues,
        )) as ExecutionResult;
        // Without data the operation never started: the variables were refused.
        if (!('data' in result)) return executeFn(executeArgs);
        return result;
      });
    },
  };
}
