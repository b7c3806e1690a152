/** A gateway whose store counts every SQL statement it runs, to pin how many statements a request costs. */
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryId,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import { createGateway } from '../../src/yoga.ts';
import type { GraphQLResponse, TestGateway } from './gateway.ts';

/** Records the kind of every statement once it has run (SelectQueryNode, RawNode, ...). */
class StatementLog implements KyselyPlugin {
  readonly statements: string[] = [];
  readonly #kinds = new WeakMap<QueryId, string>();

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    this.#kinds.set(queryId, node.kind);
    return node;
  }

  async transformResult({ queryId, result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    this.statements.push(this.#kinds.get(queryId) ?? 'unknown');
    return result;
  }
}

export interface CountingGateway {
  /** Runs a document with the default token of `g` and returns the response and the statements it ran. */
  graphql<T = Record<string, unknown>>(
    document: string,
    variables?: Record<string, unknown>,
  ): Promise<{ response: GraphQLResponse<T>; statements: string[] }>;
}

/** A second gateway over the same store as `g`, whose reads go through a statement log. */
export async function countingGateway(g: TestGateway): Promise<CountingGateway> {
  const log = new StatementLog();
  const store = { ...g.store, db: g.store.db.withPlugin(log) };
  const yoga = createGateway({ config: g.config, store, changes: g.changes });
  const token = await g.token();
  return {
    async graphql(document, variables) {
      log.statements.length = 0;
      const response = await yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: document, variables }),
      });
      const body = (await response.json()) as object;
      return { response: { status: response.status, ...body }, statements: [...log.statements] };
    },
  };
}
