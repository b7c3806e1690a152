/**
 * Exposure counts per office, class, status and severity (exposure_counts), kept at every write of the
 * current state, so the reads that count a tenant's exposures cost in proportion to its offices and
 * classes, not to its exposures. PostgreSQL keeps them by trigger (see the migration); on DuckDB the
 * writer applies each merge's difference here. A filter on any other field counts exposures_current.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { type ExposureStatus, type Scope, SEVERITIES, type Severity } from '../../domain.ts';
import type { WriteTransaction } from '../database.ts';
import type { Database } from '../tables.ts';
import { attributed } from '../telemetry.ts';
import { type ExposureFilter, ScopedConditions } from './filters.ts';

const DIMENSIONS = ['tenant_id', 'office_id', 'exposure_class', 'status', 'severity'] as const;
const dimensions = sql.join(DIMENSIONS.map((c) => sql.ref(c)));

/**
 * The filter fields the counts can answer; any other set field needs the exposures themselves. The
 * clock only judges fields that are not here.
 */
const COUNTED_FILTER_FIELDS = new Set<keyof ExposureFilter>([
  'officeIds',
  'exposureClasses',
  'statuses',
  'severities',
  'minSeverity',
  'clock',
]);

/** Whether exposure_counts answers counts under this filter. */
export function isCountable(filter: ExposureFilter | null | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(
    ([field, value]) =>
      value === null || value === undefined || COUNTED_FILTER_FIELDS.has(field as keyof ExposureFilter),
  );
}

/**
 * On DuckDB, adds to exposure_counts the difference a merge made to the tenant's exposures: `after`
 * holds their rows as written (new and updated), `before` the stored rows of its keys as they were,
 * with perhaps rows of other exposures whose key hash collides, which count only where `after` has them.
 */
export async function countChanges(
  trx: WriteTransaction,
  tenantId: string,
  before: string,
  after: string,
): Promise<void> {
  trx = attributed(trx, countChanges);
  await addCounts(
    trx,
    sql`select ${dimensions}, 1 as change from ${sql.table(after)} where tenant_id = ${tenantId}
      union all select ${dimensions}, -1 from ${sql.table(before)} b where tenant_id = ${tenantId}
        and exists (select 1 from ${sql.table(after)} a where a.tenant_id = b.tenant_id
          and a.office_id = b.office_id and a.exposure_id = b.exposure_id)`,
  );
}

/** On DuckDB, counts a tenant's exposures (every tenant's when none is given) again from exposures_current. */
export async function recountExposures(trx: WriteTransaction, tenantId?: string): Promise<void> {
  trx = attributed(trx, recountExposures);
  const tenantFilter = tenantId === undefined ? sql`` : sql`where tenant_id = ${tenantId}`;
  await sql`delete from exposure_counts ${tenantFilter}`.execute(trx.db);
  await addCounts(trx, sql`select ${dimensions}, 1 as change from exposures_current ${tenantFilter}`);
}

/**
 * Adds signed changes (rows of the dimensions and `change`) to the counts: in place where a row exists,
 * as new rows otherwise. Not an upsert: on DuckDB that is a MERGE of the whole table, and its rows with
 * one key in one statement keep only the first. The table is small; both statements read it whole.
 */
async function addCounts(trx: WriteTransaction, changes: RawBuilder<unknown>): Promise<void> {
  const stage = sql.table('stage_exposure_count_changes');
  await sql`create or replace temp table ${stage} as
    select ${dimensions}, sum(change) as exposures from (${changes}) changes
    group by ${dimensions} having sum(change) <> 0`.execute(trx.db);
  const sameKey = sql.join(
    DIMENSIONS.map((c) => sql`${sql.ref(`t.${c}`)} = ${sql.ref(`s.${c}`)}`),
    sql` and `,
  );
  await sql`update exposure_counts as t set exposures = t.exposures + s.exposures
    from ${stage} as s where ${sameKey}`.execute(trx.db);
  await sql`insert into exposure_counts (${dimensions}, exposures)
    select ${dimensions}, exposures from ${stage} as s
    where not exists (select 1 from exposure_counts as t where ${sameKey})`.execute(trx.db);
}

/** The counts of the scope's exposures that match a countable filter, per office, status and severity. */
async function countedRows(db: Kysely<Database>, scope: Scope, filter: ExposureFilter | null | undefined) {
  return db
    .selectFrom('exposure_counts as n')
    .select([
      'n.office_id',
      'n.status',
      'n.severity',
      sql<number>`cast(sum(n.exposures) as integer)`.as('exposures'),
    ])
    .where((eb) => {
      const where = new ScopedConditions(eb, scope, 'n');
      where.anyOf('office_id', filter?.officeIds);
      where.anyOf('exposure_class', filter?.exposureClasses);
      where.anyOf('status', filter?.statuses);
      where.anyOf('severity', filter?.severities);
      if (filter?.minSeverity) {
        where.anyOf('severity', SEVERITIES.slice(SEVERITIES.indexOf(filter.minSeverity)));
      }
      return where.all();
    })
    .groupBy(['n.office_id', 'n.status', 'n.severity'])
    .execute();
}

export interface StatusSeverityCounts {
  total: number;
  byStatus: Record<ExposureStatus, number>;
  bySeverity: Record<Severity, number>;
}

/** How many of the scope's exposures match a countable filter (isCountable()), by status and severity. */
export async function countExposuresByStatusAndSeverity(
  db: Kysely<Database>,
  scope: Scope,
  filter: ExposureFilter | null | undefined,
): Promise<StatusSeverityCounts> {
  db = attributed(db, countExposuresByStatusAndSeverity);
  const counts = emptyStatusSeverityCounts();
  for (const row of await countedRows(db, scope, filter)) {
    addStatusSeverityCount(counts, row.status, row.severity, Number(row.exposures));
  }
  return counts;
}

export const emptyStatusSeverityCounts = (): StatusSeverityCounts => ({
  total: 0,
  byStatus: { OPEN: 0, CLOSED: 0 },
  bySeverity: { INFO: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 },
});

export function addStatusSeverityCount(
  counts: StatusSeverityCounts,
  status: ExposureStatus,
  severity: Severity,
  exposures: number,
): void {
  counts.total += exposures;
  counts.byStatus[status] += exposures;
  counts.bySeverity[severity] += exposures;
}

/** The scope's OPEN exposures per office; an office without any is absent. */
export async function countOpenExposuresByOffice(
  db: Kysely<Database>,
  scope: Scope,
): Promise<Map<string, number>> {
  db = attributed(db, countOpenExposuresByOffice);
  const open = new Map<string, number>();
  for (const row of await countedRows(db, scope, { statuses: ['OPEN'] })) {
    open.set(row.office_id, (open.get(row.office_id) ?? 0) + Number(row.exposures));
  }
  return open;
}
