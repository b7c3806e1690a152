/** GraphQL Code Generator: typed documents (and their persisted-operation hashes) for the project's clients. */
import type { CodegenConfig } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';
import { schema } from './src/schema/index.ts';

const config: CodegenConfig = {
  // Straight from the Pothos schema, so the documents are checked against the code, never a stale print.
  schema: printSchema(schema),
  documents: ['src/client/**/*.graphql'],
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: { persistedDocuments: true, fragmentMasking: false },
      config: {
        // The sources run as TypeScript ESM: relative imports carry their extension.
        importExtension: '.ts',
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown', IPAddress: 'string', File: 'File' },
      },
    },
  },
};

export default config;
