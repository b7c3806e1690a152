/** The event log, newest first: pages, counts, lookups by id and the latest events of many exposures at once. */
import { type Kysely, sql } from 'kysely';
import type { ExposureFieldValues, ExposureKey, Scope } from '../../domain.ts';
import type { Database, ExposureEventRow } from '../tables.ts';
import { attributed } from '../telemetry.ts';
import { currentRowsWithHashes, eventRowsWithHashes, isPostgres } from './exposure-keys.ts';
import { exposureKeyConditions, keyHashes } from './exposures.ts';
import { FIELD_COLUMNS, fieldValues, jsonValue } from './field-columns.ts';
import { type EventFilter, eventConditions, exposureConditions } from './filters.ts';
import { encodeCursor, type Page, type PageArgs, pageOf, planPage, type SortKey } from './pagination.ts';

/** An event of the log as the API shows it. */
export interface EventRecord extends ExposureKey, ExposureFieldValues {
  eventId: string;
  timestamp: Date;
  scanRunId: string | null;
  scannerType: string | null;
  dedupeKey: string | null;
  rawPayload: unknown;
  ingestedAt: Date;
  actor: string | null;
}

/** The columns an event is read with. */
const EVENT_COLUMNS = [
  'e.event_id',
  'e.timestamp',
  'e.office_id',
  'e.exposure_id',
  ...FIELD_COLUMNS.map((c) => `e.${c}` as const),
  'e.scan_run_id',
  'e.scanner_type',
  'e.dedupe_key',
  'e.raw_payload',
  'e.ingested_at',
  'e.actor',
] as const;
type EventColumnsRow = Pick<
  ExposureEventRow,
  | 'event_id'
  | 'timestamp'
  | 'office_id'
  | 'exposure_id'
  | 'scan_run_id'
  | 'scanner_type'
  | 'dedupe_key'
  | 'raw_payload'
  | 'ingested_at'
  | 'actor'
> &
  Parameters<typeof fieldValues>[0];

function toEventRecord(row: EventColumnsRow): EventRecord {
  return {
    eventId: row.event_id,
    timestamp: row.timestamp,
    officeId: row.office_id,
    exposureId: row.exposure_id,
    ...fieldValues(row),
    scanRunId: row.scan_run_id,
    scannerType: row.scanner_type,
    dedupeKey: row.dedupe_key,
    rawPayload: jsonValue(row.raw_payload),
    ingestedAt: row.ingested_at,
    actor: row.actor,
  };
}

// Newest first; event_id is unique in a tenant, so the order is total.
const EVENT_SORT_KEY: SortKey = {
  columns: [
    { expression: sql.ref('e.timestamp'), type: 'timestamp' },
    { expression: sql.ref('e.event_id'), type: 'text' },
  ],
  direction: 'desc',
};

/** The cursor of an event in any event connection. */
export function eventCursor(event: EventRecord): string {
  return encodeCursor([event.timestamp, event.eventId]);
}

/** One page of events in the scope that match the filter, newest first; throws the pagination errors on bad args. */
export async function findEvents(
  db: Kysely<Database>,
  scope: Scope,
  filter: EventFilter | null,
  page: PageArgs,
): Promise<Page<EventRecord>> {
  db = attributed(db, findEvents);
  const plan = planPage(EVENT_SORT_KEY, page, isPostgres(db));
  const rows = await db
    .selectFrom('exposure_events as e')
    .select(EVENT_COLUMNS)
    .where((eb) => eb.and([eventConditions(eb, scope, filter, 'e'), ...plan.conditions]))
    .orderBy(plan.order)
    .limit(plan.limit)
    .execute();
  return pageOf(plan, rows.map(toEventRecord), page);
}

/** How many events in the scope match the filter. */
export async function countEvents(
  db: Kysely<Database>,
  scope: Scope,
  filter: EventFilter | null,
): Promise<number> {
  db = attributed(db, countEvents);
  const row = await db
    .selectFrom('exposure_events as e')
    .select(sql<number>`cast(count(*) as integer)`.as('total'))
    .where((eb) => eventConditions(eb, scope, filter, 'e'))
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

/** The events with these ids that the scope may see, in no particular order. */
export async function findEventsByIds(
  db: Kysely<Database>,
  scope: Scope,
  eventIds: readonly string[],
): Promise<EventRecord[]> {
  db = attributed(db, findEventsByIds);
  if (eventIds.length === 0) return [];
  const rows = await db
    .selectFrom('exposure_events as e')
    .select(EVENT_COLUMNS)
    .where((eb) => eb.and([eventConditions(eb, scope, null, 'e'), eb('e.event_id', 'in', eventIds)]))
    .execute();
  return rows.map(toEventRecord);
}

/** Events of one exposure: a time window and forward paging (newest first). */
export interface ExposureEventsArgs {
  from?: Date | null;
  to?: Date | null;
  first?: number | null;
  after?: string | null;
}

const keyOf = (officeId: string, exposureId: string) => JSON.stringify([officeId, exposureId]);

/**
 * A page of events for each exposure, in the order of `keys`, with one query for all of them: the rows are
 * numbered per exposure and cut at the page size.
 */
export async function findEventsOfExposures(
  db: Kysely<Database>,
  scope: Scope,
  keys: readonly ExposureKey[],
  args: ExposureEventsArgs,
): Promise<Page<EventRecord>[]> {
  db = attributed(db, findEventsOfExposures);
  const page: PageArgs = { first: args.first, after: args.after };
  const plan = planPage(EVENT_SORT_KEY, page, isPostgres(db));
  const byExposure = new Map<string, EventRecord[]>(keys.map((k) => [keyOf(k.officeId, k.exposureId), []]));
  if (keys.length > 0) {
    const numbered = eventRowsWithHashes(db, keyHashes(scope, keys))
      .select(EVENT_COLUMNS)
      .select(
        sql<number>`cast(row_number() over (partition by e.office_id, e.exposure_id order by ${plan.order}) as integer)`.as(
          'position',
        ),
      )
      .where((eb) =>
        eb.and([
          eventConditions(eb, scope, { from: args.from, to: args.to }, 'e'),
          exposureKeyConditions(eb, scope, keys, 'e'),
          ...plan.conditions,
        ]),
      );
    const rows = await db
      .selectFrom(numbered.as('n'))
      .selectAll('n')
      .where('n.position', '<=', plan.limit)
      .orderBy('n.position')
      .execute();
    for (const { position: _position, ...row } of rows) {
      byExposure.get(keyOf(row.office_id, row.exposure_id))?.push(toEventRecord(row));
    }
  }
  return keys.map((k) => pageOf(plan, byExposure.get(keyOf(k.officeId, k.exposureId)) ?? [], page));
}

/** How many events each exposure has in the time window, in the order of `keys`, in one query. */
export async function countEventsOfExposures(
  db: Kysely<Database>,
  scope: Scope,
  keys: readonly ExposureKey[],
  window: Pick<ExposureEventsArgs, 'from' | 'to'>,
): Promise<number[]> {
  db = attributed(db, countEventsOfExposures);
  if (keys.length === 0) return [];
  // Without a window, the count is the current state's: no event is read.
  const rows =
    !window.from && !window.to
      ? await currentRowsWithHashes(db, keyHashes(scope, keys))
          .select(['c.office_id', 'c.exposure_id', 'c.event_count as total'])
          .where((eb) =>
            eb.and([exposureConditions(eb, scope, null, 'c'), exposureKeyConditions(eb, scope, keys, 'c')]),
          )
          .execute()
      : await eventRowsWithHashes(db, keyHashes(scope, keys))
          .select(['e.office_id', 'e.exposure_id', sql<number>`cast(count(*) as integer)`.as('total')])
          .where((eb) =>
            eb.and([
              eventConditions(eb, scope, { from: window.from, to: window.to }, 'e'),
              exposureKeyConditions(eb, scope, keys, 'e'),
            ]),
          )
          .groupBy(['e.office_id', 'e.exposure_id'])
          .execute();
  const totals = new Map(rows.map((r) => [keyOf(r.office_id, r.exposure_id), Number(r.total)]));
  return keys.map((k) => totals.get(keyOf(k.officeId, k.exposureId)) ?? 0);
}
