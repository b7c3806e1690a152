/** `npm run schema:print` writes schema.graphql; `npm run schema:check` (--check) fails when it is stale. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printedSchema, readSchemaFile, SCHEMA_FILE, schemaDifferences } from './schema-file.ts';

const file = fileURLToPath(SCHEMA_FILE);
const fresh = printedSchema();
const current = readSchemaFile();

if (process.argv.includes('--check')) {
  if (current === fresh) {
    console.log(`${file} is up to date`);
  } else {
    const differences = current === undefined ? ['the file is missing'] : schemaDifferences(current, fresh);
    // Same definitions, other text: only whitespace or order differs.
    const detail = differences.length > 0 ? differences.join(', ') : 'formatting';
    console.error(`${file} is stale (${detail}): run npm run schema:print`);
    process.exitCode = 1;
  }
} else if (current === fresh) {
  console.log(`${file} is up to date`);
} else {
  fs.writeFileSync(file, fresh);
  console.log(`wrote ${file}`);
}
