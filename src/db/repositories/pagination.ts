/**
 * Keyset pagination: the cursor is the row's sort key, so pages stay stable while rows are inserted,
 * and no query uses OFFSET.
 */
import { type Expression, type RawBuilder, type SqlBool, sql } from 'kysely';
import { DomainError } from '../../domain.ts';
import { timestampParam } from './filters.ts';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export type SortValue = string | number | Date;

/** One column of a sort key. Nullable columns must be wrapped (coalesce) so the key is never null. */
export interface SortColumn {
  /** SQL expression, e.g. sql.ref('c.last_seen') or sql`coalesce(c.risk_score, -1)`. */
  expression: RawBuilder<unknown> | Expression<unknown>;
  type: 'timestamp' | 'number' | 'text';
}

/** A sort key: every column in one direction, the last ones unique (a total order). */
export interface SortKey {
  columns: readonly SortColumn[];
  direction: 'asc' | 'desc';
}

export class InvalidCursorError extends DomainError {
  override name = 'InvalidCursorError';
  constructor(message: string) {
    super('INVALID_CURSOR', message);
  }
}

export class InvalidPageArgsError extends DomainError {
  override name = 'InvalidPageArgsError';
  constructor(message: string) {
    super('BAD_USER_INPUT', message);
  }
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function encodeCursor(values: readonly SortValue[]): string {
  const plain = values.map((v) => (v instanceof Date ? v.toISOString() : v));
  return Buffer.from(JSON.stringify(plain)).toString('base64url');
}

/** Decodes a cursor for `key`; anything that is not one of ours is an InvalidCursorError. */
export function decodeCursor(cursor: string, key: SortKey): SortValue[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('the cursor is not valid: use a cursor returned by this connection');
  }
  if (!Array.isArray(values) || values.length !== key.columns.length) {
    throw new InvalidCursorError('the cursor does not belong to this connection or sort order');
  }
  return key.columns.map((column, i) => {
    const value: unknown = values[i];
    if (column.type === 'number' && typeof value === 'number' && Number.isFinite(value)) return value;
    if (column.type === 'text' && typeof value === 'string') return value;
    if (column.type === 'timestamp' && typeof value === 'string' && !Number.isNaN(Date.parse(value))) {
      return new Date(value);
    }
    throw new InvalidCursorError('the cursor does not belong to this connection or sort order');
  });
}

function param(value: SortValue) {
  return value instanceof Date ? timestampParam(value) : sql`${value}`;
}

/**
 * key after (or before) the cursor values, in the key's direction. PostgreSQL compares row values in the
 * order of their columns, and can start an index scan at one (a deep page reads no rows before it); DuckDB
 * gets an OR chain.
 */
export function keysetCondition(
  key: SortKey,
  values: readonly SortValue[],
  side: 'after' | 'before',
  rowValues = false,
): Expression<SqlBool> {
  const forward = (key.direction === 'asc') === (side === 'after');
  const op = sql.raw(forward ? '>' : '<');
  if (rowValues) {
    return sql<SqlBool>`(${sql.join(key.columns.map((c) => c.expression))}) ${op} (${sql.join(values.map(param))})`;
  }
  const branches = key.columns.map((column, i) => {
    const equal = key.columns.slice(0, i).map((c, j) => sql`${c.expression} = ${param(values[j]!)}`);
    return sql.join([...equal, sql`${column.expression} ${op} ${param(values[i]!)}`], sql` and `);
  });
  return sql<SqlBool>`(${sql.join(
    branches.map((b) => sql`(${b})`),
    sql` or `,
  )})`;
}

export function orderBy(key: SortKey, reverse: boolean) {
  const descending = (key.direction === 'desc') !== reverse;
  return sql.join(
    key.columns.map((c) => sql`${c.expression} ${sql.raw(descending ? 'desc' : 'asc')}`),
    sql`, `,
  );
}

export interface PagePlan {
  /** Conditions from after/before. */
  conditions: Expression<SqlBool>[];
  /** ORDER BY for the query (reversed when paging backward). */
  order: RawBuilder<unknown>;
  /** LIMIT: one more than the page, to learn whether there is more. */
  limit: number;
  size: number;
  backward: boolean;
}

/**
 * Validates Relay arguments and plans the query; `rowValues` where the engine compares row values
 * (PostgreSQL), as keysetCondition() says.
 */
export function planPage(key: SortKey, args: PageArgs, rowValues = false): PagePlan {
  const { first, last, after, before } = args;
  if (first != null && last != null) throw new InvalidPageArgsError('pass either first or last, not both');
  for (const [name, value] of [
    ['first', first],
    ['last', last],
  ] as const) {
    if (value != null && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw new InvalidPageArgsError(`${name} must be between 0 and ${MAX_PAGE_SIZE}`);
    }
  }
  const backward = last != null;
  const size = (backward ? last : first) ?? DEFAULT_PAGE_SIZE;
  const conditions: Expression<SqlBool>[] = [];
  if (after) conditions.push(keysetCondition(key, decodeCursor(after, key), 'after', rowValues));
  if (before) conditions.push(keysetCondition(key, decodeCursor(before, key), 'before', rowValues));
  return { conditions, order: orderBy(key, backward), limit: size + 1, size, backward };
}

export interface Page<Row> {
  rows: Row[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Trims the extra row and restores display order. */
export function pageOf<Row>(plan: PagePlan, fetched: Row[], args: PageArgs): Page<Row> {
  const more = fetched.length > plan.size;
  const rows = fetched.slice(0, plan.size);
  if (plan.backward) rows.reverse();
  return {
    rows,
    // Relay: the side we did not page toward reports whether a cursor bounded it.
    hasNextPage: plan.backward ? Boolean(args.before) : more,
    hasPreviousPage: plan.backward ? more : Boolean(args.after),
  };
}
