/** DateTime, JSON, IPAddress and File. */
import { GraphQLError, Kind } from 'graphql';
import { canonicalIp } from '../ip.ts';
import { builder } from './builder.ts';

const OFFSET_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !OFFSET_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError(
      `DateTime must be ISO-8601 with an offset (Z or +hh:mm), got ${JSON.stringify(value)}`,
    );
  }
  return new Date(value);
}

builder.scalarType('DateTime', {
  description:
    'ISO-8601 instant. Input must carry an offset (Z or +hh:mm); output is always UTC with a trailing Z.',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseIp(value: unknown): string {
  const canonical = typeof value === 'string' ? canonicalIp(value) : null;
  if (!canonical) {
    throw new GraphQLError(
      `IPAddress must be an IPv4 or IPv6 address without prefix or leading zeros, got ${JSON.stringify(value)}`,
    );
  }
  return canonical;
}

builder.scalarType('IPAddress', {
  description: 'An IPv4 or IPv6 address (no CIDR suffix, no leading zeros).',
  serialize: (value) => value,
  parseValue: parseIp,
  parseLiteral: (ast) => parseIp(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseJsonLiteral(ast: import('graphql').ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map(parseJsonLiteral);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((field) => [field.name.value, parseJsonLiteral(field.value)]));
    default:
      throw new GraphQLError('JSON literals cannot contain variables');
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: parseJsonLiteral,
});

/** Uploads arrive as the server's File implementation (@whatwg-node), which is not Node's global File class. */
function isFile(value: unknown): value is File {
  if (value instanceof File) return true;
  const file = value as File | null;
  return typeof file?.stream === 'function' && typeof file.name === 'string';
}

builder.scalarType('File', {
  description: 'A file sent with the GraphQL multipart request spec.',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  parseValue: (value) => {
    if (!isFile(value)) throw new GraphQLError('File must be sent as a multipart upload');
    return value;
  },
});
