/**
 * Text no engine stores alike (U+0000, unpaired surrogates) is refused in every argument before a
 * resolver runs, with INVALID_CHARACTERS naming where it was: PostgreSQL would fail on it where DuckDB
 * matches or stores it, so no lookup, filter or write can tell the engines apart.
 */
import {
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  TypeInfo,
  type ValueNode,
  valueFromAST,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isStorableText, UNSTORABLE_TEXT } from '../domain.ts';
import { clientError } from '../errors.ts';

/**
 * Events are checked one by one by ingest (INVALID_EVENTS with their index and field), so that
 * skipInvalid can keep the others: their inputs are left to it.
 */
const CHECKED_BY_INGEST = 'ExposureEventInput';

/** The path of the first unstorable string or key in a JSON value, or undefined. */
function unstorableIn(value: unknown, path: string): string | undefined {
  // A stack, not recursion: a JSON value may be nested thousands of levels deep.
  const pending: [unknown, string][] = [[value, path]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, at] = next;
    if (typeof item === 'string') {
      if (!isStorableText(item)) return at;
    } else if (Array.isArray(item)) {
      for (const [i, child] of item.entries()) pending.push([child, `${at}[${i}]`]);
    } else if (item && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        if (!isStorableText(key)) return at;
        pending.push([child, `${at}.${key}`]);
      }
    }
  }
  return undefined;
}

/**
 * The first unstorable text in an argument's value, walked along its type, as the input field that
 * holds it (`filter.exposureIds`); ingest's events are skipped.
 */
function unstorableInArgument(type: GraphQLInputType, value: unknown, path: string): string | undefined {
  const unwrapped = isNonNullType(type) ? type.ofType : type;
  if (value === null || value === undefined) return undefined;
  if (isListType(unwrapped)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      const found = unstorableInArgument(unwrapped.ofType, item, path);
      if (found) return found;
    }
    return undefined;
  }
  if (getNamedType(unwrapped).name === CHECKED_BY_INGEST) return undefined;
  if (isInputObjectType(unwrapped) && typeof value === 'object') {
    const fields = unwrapped.getFields();
    for (const [name, field] of Object.entries(value)) {
      const at = `${path}.${name}`;
      const found = fields[name]
        ? unstorableInArgument(fields[name].type, field, at)
        : unstorableIn(field, at);
      if (found) return found;
    }
    return undefined;
  }
  return unstorableIn(value, path);
}

interface ArgumentSite {
  name: string;
  type: GraphQLInputType;
  value: ValueNode;
}

/** Per document: every argument it passes, with its type (yoga hands out one object per document text). */
const sites = new WeakMap<DocumentNode, ArgumentSite[]>();

function argumentSites(schema: GraphQLSchema, document: DocumentNode): ArgumentSite[] {
  let found = sites.get(document);
  if (found) return found;
  found = [];
  const typeInfo = new TypeInfo(schema);
  const collected = found;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        const definition = typeInfo.getArgument();
        if (definition) collected.push({ name: node.name.value, type: definition.type, value: node.value });
      },
    }),
  );
  sites.set(document, found);
  return found;
}

/** Throws INVALID_CHARACTERS for the first unstorable text of the operation's arguments. */
function check(args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: unknown }): void {
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  for (const site of argumentSites(args.schema, args.document)) {
    // Literals and variables alike; a value that does not fit its type is left to the execution's error.
    const found = unstorableInArgument(site.type, valueFromAST(site.value, site.type, variables), site.name);
    if (found) {
      throw clientError('INVALID_CHARACTERS', `${found}: ${UNSTORABLE_TEXT}`, {
        field: found,
      });
    }
  }
}

export function useStorableText(): Plugin {
  return {
    onExecute: ({ args }) => check(args),
    onSubscribe: ({ args }) => check(args),
  };
}
