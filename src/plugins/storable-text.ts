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
  getOperationAST,
  isInputObjectType,
  isListType,
  isNonNullType,
  TypeInfo,
  typeFromAST,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isStorableText } from '../domain.ts';
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

/** The first unstorable text in a variable's value, walked along its type; ingest's events skipped. */
function unstorableInVariable(type: GraphQLInputType, value: unknown, path: string): string | undefined {
  const unwrapped = isNonNullType(type) ? type.ofType : type;
  if (value === null || value === undefined) return undefined;
  if (isListType(unwrapped)) {
    if (!Array.isArray(value)) return unstorableInVariable(unwrapped.ofType, value, path);
    for (const [i, item] of value.entries()) {
      const found = unstorableInVariable(unwrapped.ofType, item, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (getNamedType(unwrapped).name === CHECKED_BY_INGEST) return undefined;
  if (isInputObjectType(unwrapped) && typeof value === 'object' && !Array.isArray(value)) {
    const fields = unwrapped.getFields();
    for (const [name, field] of Object.entries(value)) {
      const found = fields[name]
        ? unstorableInVariable(fields[name].type, field, `${path}.${name}`)
        : unstorableIn(field, `${path}.${name}`);
      if (found) return found;
    }
    return undefined;
  }
  return unstorableIn(value, path);
}

/** The first unstorable string literal of the operation, by argument name; ingest's events skipped. */
function unstorableLiteral(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null) {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const typeInfo = new TypeInfo(schema);
  let argument = '';
  let insideEvents = 0;
  let found: string | undefined;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument: {
        enter: (node) => {
          argument = node.name.value;
        },
      },
      ObjectValue: {
        enter: () => {
          const type = typeInfo.getInputType();
          if (type && getNamedType(type).name === CHECKED_BY_INGEST) insideEvents += 1;
        },
        leave: () => {
          const type = typeInfo.getInputType();
          if (type && getNamedType(type).name === CHECKED_BY_INGEST) insideEvents -= 1;
        },
      },
      StringValue: (node) => {
        if (insideEvents === 0 && !found && !isStorableText(node.value)) found = argument || 'document';
      },
    }),
  );
  return found;
}

interface OperationArgs {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null | undefined;
  variableValues?: Record<string, unknown> | null | undefined;
}

/** Per document: where its first unstorable literal is, or null. */
const literals = new WeakMap<DocumentNode, string | null>();

/** Throws INVALID_CHARACTERS for the first unstorable text of the operation's variables or literals. */
function check(args: OperationArgs): void {
  const operation = getOperationAST(args.document, args.operationName);
  const variables = args.variableValues ?? {};
  for (const definition of operation?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(args.schema, definition.type) as GraphQLInputType | undefined;
    const found = type && unstorableInVariable(type, variables[name], `$${name}`);
    if (found) throw invalidCharacters(found);
  }
  // yoga hands the same document object to every request with the same text: its literals are read once.
  let literal = literals.get(args.document);
  if (literal === undefined) {
    literal = unstorableLiteral(args.schema, args.document, args.operationName) ?? null;
    literals.set(args.document, literal);
  }
  if (literal) throw invalidCharacters(literal);
}

export function useStorableText(): Plugin {
  return {
    onExecute: ({ args }) => check(args),
    onSubscribe: ({ args }) => check(args),
  };
}

const invalidCharacters = (field: string) =>
  clientError(
    'INVALID_CHARACTERS',
    `${field}: must not contain U+0000 (NUL) or an unpaired UTF-16 surrogate`,
    {
      field,
    },
  );
