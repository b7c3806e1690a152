/** The current state of exposures: pages, counts and lookups by key, always inside the caller's scope. */
import {
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type SelectQueryBuilder,
  type SqlBool,
  sql,
} from 'kysely';
import type { Scope } from '../../domain.ts';
import { type ExposureFieldValues, type ExposureKey, SEVERITIES } from '../../domain.ts';
import type { WriteTransaction } from '../database.ts';
import type { Database, ExposureRow, ExposureSortKeyTable } from '../tables.ts';
import { attributed } from '../telemetry.ts';
import { countExposuresByStatusAndSeverity, isCountable } from './exposure-counts.ts';
import { currentRowsWithHashes, hashIn, isPostgres, keyHash } from './exposure-keys.ts';
import { FIELD_COLUMNS, fieldValues } from './field-columns.ts';
import { beyondSortKeys, type ExposureFilter, exposureConditions, sortKeyConditions } from './filters.ts';
import {
  encodeCursor,
  type Page,
  type PageArgs,
  pageOf,
  planPage,
  type SortColumn,
  type SortKey,
} from './pagination.ts';

/** An exposure as the API shows it. */
export interface ExposureState extends ExposureKey, ExposureFieldValues {
  firstSeen: Date;
  lastSeen: Date;
  /** Start of the current OPEN streak; null while CLOSED. */
  openSince: Date | null;
}

/** The columns an exposure is read with. */
const EXPOSURE_COLUMNS = [
  'c.office_id',
  'c.exposure_id',
  ...FIELD_COLUMNS.map((c) => `c.${c}` as const),
  'c.first_seen',
  'c.last_seen',
  'c.open_since',
] as const;
type ExposureColumnsRow = Pick<
  ExposureRow,
  'office_id' | 'exposure_id' | 'first_seen' | 'last_seen' | 'open_since'
> &
  Parameters<typeof fieldValues>[0];

function toExposureState(row: ExposureColumnsRow): ExposureState {
  return {
    officeId: row.office_id,
    exposureId: row.exposure_id,
    ...fieldValues(row),
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    openSince: row.open_since,
  };
}

export type ExposureOrderField = 'LAST_SEEN' | 'FIRST_SEEN' | 'SEVERITY' | 'RISK_SCORE';
export interface ExposureOrder {
  field: ExposureOrderField;
  direction: 'ASC' | 'DESC';
}
export const DEFAULT_EXPOSURE_ORDER: ExposureOrder = { field: 'LAST_SEEN', direction: 'DESC' };

/** A sort column and how to read its value from an exposure for the cursor. */
interface ExposureSortColumn extends SortColumn {
  value(exposure: ExposureState): string | number | Date;
}

/**
 * The sort columns, read from exposures_current (alias c) or from its sort keys (alias k, PostgreSQL:
 * migrations/2026-12-01T01-40-exposure-sort-keys.ts), where risk is already coalesced.
 */
function sortColumns(from: 'c' | 'k') {
  const column = (name: string) => sql.ref(`${from}.${name}`);
  const lastSeen: ExposureSortColumn = {
    expression: column('last_seen'),
    type: 'timestamp',
    value: (e) => e.lastSeen,
  };
  const identity: ExposureSortColumn[] = [
    { expression: column('office_id'), type: 'text', value: (e) => e.officeId },
    { expression: column('exposure_id'), type: 'text', value: (e) => e.exposureId },
  ];
  const severity: ExposureSortColumn = {
    expression: column('severity_rank'),
    type: 'number',
    value: (e) => SEVERITIES.indexOf(e.severity),
  };
  // Scores are 0..100, so -1 puts exposures without one below every scored one.
  const risk: ExposureSortColumn = {
    expression: from === 'k' ? column('risk') : sql`coalesce(${column('risk_score')}, -1)`,
    type: 'number',
    value: (e) => e.riskScore ?? -1,
  };
  // Ties in severity or score go to the most recently seen (in the chosen direction); office_id and
  // exposure_id end every key: the primary key makes the order total.
  const leading: Record<ExposureOrderField, readonly ExposureSortColumn[]> = {
    LAST_SEEN: [lastSeen],
    FIRST_SEEN: [{ expression: column('first_seen'), type: 'timestamp', value: (e) => e.firstSeen }],
    SEVERITY: [severity, lastSeen],
    RISK_SCORE: [risk, lastSeen],
  };
  return (field: ExposureOrderField) => [...leading[field], ...identity];
}

const SORT_COLUMNS = { c: sortColumns('c'), k: sortColumns('k') };

interface ExposureSortKey extends SortKey {
  columns: readonly ExposureSortColumn[];
}

function sortKeyOf(order: ExposureOrder, from: 'c' | 'k' = 'c'): ExposureSortKey {
  return {
    columns: SORT_COLUMNS[from](order.field),
    direction: order.direction === 'ASC' ? 'asc' : 'desc',
  };
}

/** The cursor of an exposure in a connection sorted by `order`. */
export function exposureCursor(order: ExposureOrder, exposure: ExposureState): string {
  return encodeCursor(sortKeyOf(order).columns.map((column) => column.value(exposure)));
}

export interface ExposurePageArgs extends PageArgs {
  order?: ExposureOrder | null;
}

/**
 * One page of exposures in the scope that match the filter, and `within` (a condition on alias c) when
 * given; throws the pagination errors on bad args.
 */
export async function findExposures(
  db: Kysely<Database>,
  scope: Scope,
  filter: ExposureFilter | null,
  page: ExposurePageArgs,
  within?: Expression<SqlBool>,
): Promise<Page<ExposureState>> {
  db = attributed(db, findExposures);
  const order = page.order ?? DEFAULT_EXPOSURE_ORDER;
  if (isPostgres(db)) return findExposuresBySortKeys(db, scope, filter, page, order, within);
  const plan = planPage(sortKeyOf(order), page);
  const rows = await db
    .selectFrom('exposures_current as c')
    .select(EXPOSURE_COLUMNS)
    .where((eb) =>
      eb.and([exposureConditions(eb, scope, filter, 'c'), ...(within ? [within] : []), ...plan.conditions]),
    )
    .orderBy(plan.order)
    .limit(plan.limit)
    .execute();
  return pageOf(plan, rows.map(toExposureState), page);
}

/**
 * findExposures() on PostgreSQL: walks the index of the order in exposure_sort_keys, checks there what
 * the sort keys hold (scope, offices, statuses, severities), and reads the exposures that pass by key. A
 * page costs its own rows, and those that the rest of the filter skips, instead of a sort of every match.
 */
async function findExposuresBySortKeys(
  db: Kysely<Database>,
  scope: Scope,
  filter: ExposureFilter | null,
  page: ExposurePageArgs,
  order: ExposureOrder,
  within?: Expression<SqlBool>,
): Promise<Page<ExposureState>> {
  const plan = planPage(sortKeyOf(order, 'k'), page, true);
  const rest = beyondSortKeys(filter);
  const keys = db
    .selectFrom('exposure_sort_keys as k')
    .where((eb) => eb.and([sortKeyConditions(eb, scope, filter, 'k'), ...plan.conditions]));
  const exposuresOf = (sortKeys: SelectQueryBuilder<Database & { k: ExposureSortKeyTable }, 'k', object>) =>
    sortKeys
      .innerJoin('exposures_current as c', (join) =>
        join
          .onRef('c.tenant_id', '=', 'k.tenant_id')
          .onRef('c.office_id', '=', 'k.office_id')
          .onRef('c.exposure_id', '=', 'k.exposure_id'),
      )
      .select(EXPOSURE_COLUMNS)
      .where((eb) => eb.and([exposureConditions(eb, scope, rest, 'c'), ...(within ? [within] : [])]));
  // When the sort keys decide the page alone, its keys come first and only they are read. Otherwise the
  // join walks the index and stops at a full page; PostgreSQL cannot estimate how many key rows that
  // takes (it multiplies the selectivities of the key's columns), and may plan it as a parallel walk.
  const rows =
    rest || within
      ? await exposuresOf(keys).orderBy(plan.order).limit(plan.limit).execute()
      : await exposuresOf(db.selectFrom(keys.selectAll('k').orderBy(plan.order).limit(plan.limit).as('k')))
          .orderBy(plan.order)
          .execute();
  return pageOf(plan, rows.map(toExposureState), page);
}

/**
 * How many exposures in the scope match the filter (and `within`, as in findExposures()): from
 * exposure_counts when the filter allows, else counted.
 */
export async function countExposures(
  db: Kysely<Database>,
  scope: Scope,
  filter: ExposureFilter | null,
  within?: Expression<SqlBool>,
): Promise<number> {
  if (!within && isCountable(filter)) {
    return (await countExposuresByStatusAndSeverity(db, scope, filter)).total;
  }
  db = attributed(db, countExposures);
  const row = await db
    .selectFrom('exposures_current as c')
    .select(sql<number>`cast(count(*) as integer)`.as('total'))
    .where((eb) => eb.and([exposureConditions(eb, scope, filter, 'c'), ...(within ? [within] : [])]))
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

/** The key hashes of exposures of the scope's tenant. */
export const keyHashes = (scope: Scope, keys: readonly ExposureKey[]) =>
  keys.map((key) => keyHash(scope.tenantId, key.officeId, key.exposureId));

/**
 * (office_id, exposure_id) is one of `keys` of the scope's tenant, for a table under `alias` that has
 * exposure_hash: the hash list is DuckDB's index lookup, the exact keys PostgreSQL's (and the check).
 */
export function exposureKeyConditions(
  // biome-ignore lint/suspicious/noExplicitAny: applies to any table alias with the key columns.
  eb: ExpressionBuilder<any, any>,
  scope: Scope,
  keys: readonly ExposureKey[],
  alias: string,
) {
  return eb.and([
    hashIn(sql.ref(`${alias}.exposure_hash`), keyHashes(scope, keys)),
    eb.or(
      keys.map((key) =>
        eb.and([
          eb(sql.ref(`${alias}.office_id`), '=', key.officeId),
          eb(sql.ref(`${alias}.exposure_id`), '=', key.exposureId),
        ]),
      ),
    ),
  ]);
}

/** The exposures with these keys that the scope may see and the filter matches, in no particular order. */
export async function findExposuresByKeys(
  db: Kysely<Database>,
  scope: Scope,
  keys: readonly ExposureKey[],
  filter: ExposureFilter | null = null,
): Promise<ExposureState[]> {
  db = attributed(db, findExposuresByKeys);
  if (keys.length === 0) return [];
  const rows = await currentRowsWithHashes(db, keyHashes(scope, keys))
    .select(EXPOSURE_COLUMNS)
    .where((eb) =>
      eb.and([exposureConditions(eb, scope, filter, 'c'), exposureKeyConditions(eb, scope, keys, 'c')]),
    )
    .execute();
  return rows.map(toExposureState);
}

/**
 * The exposure with this key in the scope, read inside a write: on PostgreSQL its row is locked until
 * the transaction ends, so what the caller writes next is based on the state no other writer changes
 * meanwhile (DuckDB has one writer). Undefined when the scope has no such exposure.
 */
export async function findExposureForWrite(
  trx: WriteTransaction,
  scope: Scope,
  key: ExposureKey,
): Promise<ExposureState | undefined> {
  trx = attributed(trx, findExposureForWrite);
  const query = currentRowsWithHashes(trx.db, keyHashes(scope, [key]))
    .select(EXPOSURE_COLUMNS)
    .where((eb) =>
      eb.and([exposureConditions(eb, scope, null, 'c'), exposureKeyConditions(eb, scope, [key], 'c')]),
    );
  const row = await (trx.engine === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
  return row ? toExposureState(row) : undefined;
}
