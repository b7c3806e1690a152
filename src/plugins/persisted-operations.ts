/** PERSISTED_OPERATIONS_ONLY: the gateway runs the operations of the codegen manifest and nothing else. */
import fs from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { ConfigError } from '../config.ts';
import { clientError } from '../errors.ts';

/** Written by `npm run codegen`: sha256 hash -> document of every operation the project's clients send. */
const PERSISTED_DOCUMENTS_FILE = new URL('../gql/persisted-documents.json', import.meta.url);

function readPersistedDocuments(): Map<string, string> {
  try {
    return new Map(Object.entries(JSON.parse(fs.readFileSync(PERSISTED_DOCUMENTS_FILE, 'utf8'))));
  } catch (error) {
    throw new ConfigError(
      `PERSISTED_OPERATIONS_ONLY: cannot read ${PERSISTED_DOCUMENTS_FILE.pathname} (run npm run codegen): ${(error as Error).message}`,
    );
  }
}

/** Runs only the operations of the codegen manifest, sent as extensions.persistedQuery.sha256Hash. */
export function usePersistedOperationsOnly() {
  const documents = readPersistedDocuments();
  const only = () =>
    clientError(
      'PERSISTED_QUERY_ONLY',
      'this gateway runs only persisted operations: send extensions.persistedQuery { version: 1, sha256Hash } instead of a query',
    );
  return usePersistedOperations({
    getPersistedOperation: (hash) => documents.get(hash) ?? null,
    allowArbitraryOperations: false,
    customErrors: {
      persistedQueryOnly: only,
      keyNotFound: only,
      notFound: () => clientError('PERSISTED_QUERY_NOT_FOUND', 'no persisted operation has this hash'),
    },
  });
}
