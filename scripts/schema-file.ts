/** schema.graphql at the project root: the schema printed from the code, and how a stale copy differs. */
import fs from 'node:fs';
import { type DefinitionNode, parse, print, printSchema } from 'graphql';
import { schema } from '../src/schema/index.ts';

export const SCHEMA_FILE = new URL('../schema.graphql', import.meta.url);

/** The SDL of the schema; the schema is sorted already, so the text is stable. */
export function printedSchema(): string {
  return `${printSchema(schema)}\n`;
}

export function readSchemaFile(): string | undefined {
  return fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : undefined;
}

function definitionsByName(sdl: string): Map<string, string> {
  const named = (definition: DefinitionNode) =>
    'name' in definition && definition.name ? definition.name.value : definition.kind;
  return new Map(parse(sdl).definitions.map((definition) => [named(definition), print(definition)]));
}

/** The type names that differ between two prints, e.g. ["added Foo", "changed Query"]. */
export function schemaDifferences(stale: string, fresh: string): string[] {
  const before = definitionsByName(stale);
  const after = definitionsByName(fresh);
  const differences: string[] = [];
  for (const [name, text] of after) {
    if (!before.has(name)) differences.push(`added ${name}`);
    else if (before.get(name) !== text) differences.push(`changed ${name}`);
  }
  for (const name of before.keys()) if (!after.has(name)) differences.push(`removed ${name}`);
  return differences;
}
