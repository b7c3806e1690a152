/** Reading exposures_current back in the shape of foldEvents(), to compare the two. */
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Store } from '../../src/db/database.ts';
import { fieldValues } from '../../src/db/repositories/field-columns.ts';
import { INFERRED_KIND } from '../../src/db/repositories/scan-runs.ts';
import type { ExposureRow } from '../../src/db/tables.ts';
import {
  EXPOSURE_FIELDS,
  type ExposureEvent,
  type ExposureFieldValues,
  FIELD_NAMES,
  SEVERITIES,
} from '../../src/domain.ts';
import { type ExposureState, exposureKey, foldEvents } from '../../src/ingest/fold.ts';
import { validateEvents } from '../../src/ingest/validate.ts';
import { ipKey } from '../../src/ip.ts';

/** A row of exposures_current as an ExposureState, checking the derived columns on the way. */
export function toState(row: ExposureRow): ExposureState {
  expect(row.severity_rank).toBe(SEVERITIES.indexOf(row.severity));
  expect(row.dst_ip_key).toBe(row.dst_ip === null ? null : ipKey(row.dst_ip));
  const values = Object.fromEntries(
    FIELD_NAMES.map((field) => {
      const value = row[EXPOSURE_FIELDS[field].column];
      // DuckDB reads JSON back as text, PostgreSQL as a value; timestamps come back as Date.
      if (value instanceof Date) return [field, value.toISOString()];
      return [
        field,
        EXPOSURE_FIELDS[field].type === 'json' && typeof value === 'string' ? JSON.parse(value) : value,
      ];
    }),
  ) as ExposureFieldValues;
  return {
    ...values,
    officeId: row.office_id,
    exposureId: row.exposure_id,
    firstSeen: row.first_seen.toISOString(),
    lastSeen: row.last_seen.toISOString(),
    lastEventId: row.last_event_id,
    eventCount: Number(row.event_count),
    openSince: row.open_since?.toISOString() ?? null,
  };
}

/** The tenant's current states, sorted by exposure key. */
export async function currentStates(store: Store, tenantId: string): Promise<[string, ExposureState][]> {
  const rows = await store.db
    .selectFrom('exposures_current')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .execute();
  return sortByKey(
    new Map(
      rows.map((row) => [
        exposureKey({ officeId: row.office_id, exposureId: row.exposure_id }),
        toState(row),
      ]),
    ),
  );
}

/** foldEvents() in the shape of currentStates(). */
export function foldedStates(events: readonly ExposureEvent[]): [string, ExposureState][] {
  return sortByKey(foldEvents(events));
}

function sortByKey<T>(states: Map<string, T>): [string, T][] {
  return [...states.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Event inputs as validated events; fails the test when one is rejected. */
export function validated(inputs: readonly Record<string, unknown>[]): ExposureEvent[] {
  const { valid, rejected } = validateEvents(inputs, { maxFutureSkewSeconds: 300 });
  expect(rejected).toEqual([]);
  return valid.map((v) => v.event);
}

/** The tenant's events as the log holds them, in the shape the fold takes. */
export async function storedEvents(store: Store, tenantId: string): Promise<ExposureEvent[]> {
  const rows = await store.db
    .selectFrom('exposure_events')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .execute();
  return rows.map((row) => ({
    ...fieldValues(row),
    eventId: row.event_id,
    timestamp: row.timestamp.toISOString(),
    officeId: row.office_id,
    exposureId: row.exposure_id,
    scanRunId: row.scan_run_id,
    scannerType: row.scanner_type,
    dedupeKey: row.dedupe_key,
    rawPayload: null,
  }));
}

/**
 * What ingest keeps beside the log and exposures_current matches them, for every tenant: exposure_counts
 * holds the exposures per office, class, status and severity (what a count gives), on PostgreSQL
 * exposure_sort_keys holds the sort columns of each exposure, and scan_runs holds each run's start and
 * what it observed as the log tells them.
 */
export async function expectKeptTables(store: Store): Promise<void> {
  await expectCountsOfCurrent(store);
  if (store.engine === 'postgres') await expectSortKeysOfCurrent(store);
  await expectRunCountsOfLog(store);
}

async function expectRunCountsOfLog(store: Store): Promise<void> {
  const key = ['tenant_id', 'office_id', 'scan_run_id'] as const;
  const kept = await store.db
    .selectFrom('scan_runs')
    .select([...key, 'started_at', 'events_observed', 'exposures_observed'])
    .orderBy([...key])
    .execute();
  const observed = sql`coalesce(event_kind, '') <> ${INFERRED_KIND}`;
  const counted = await store.db
    .selectFrom('exposure_events')
    .select([...key, sql<Date>`min(timestamp)`.as('started_at')])
    .select(sql<number>`cast(count(*) filter (where ${observed}) as integer)`.as('events_observed'))
    .select(
      sql<number>`cast(count(distinct exposure_id) filter (where ${observed}) as integer)`.as(
        'exposures_observed',
      ),
    )
    .where('scan_run_id', 'is not', null)
    .groupBy([...key])
    .orderBy([...key])
    .execute();
  expect(kept).toEqual(counted);
}

async function expectSortKeysOfCurrent(store: Store): Promise<void> {
  const kept = await store.db
    .selectFrom('exposure_sort_keys')
    .select([
      'tenant_id',
      'office_id',
      'exposure_id',
      'status',
      'severity_rank',
      'last_seen',
      'first_seen',
      'risk',
    ])
    .orderBy(['tenant_id', 'office_id', 'exposure_id'])
    .execute();
  const current = await store.db
    .selectFrom('exposures_current')
    .select(['tenant_id', 'office_id', 'exposure_id', 'status', 'severity_rank', 'last_seen', 'first_seen'])
    .select(sql<number>`coalesce(risk_score, -1)`.as('risk'))
    .orderBy(['tenant_id', 'office_id', 'exposure_id'])
    .execute();
  expect(kept).toEqual(current);
}

async function expectCountsOfCurrent(store: Store): Promise<void> {
  const key = (row: {
    tenant_id: string;
    office_id: string;
    exposure_class: string;
    status: string;
    severity: string;
  }) => JSON.stringify([row.tenant_id, row.office_id, row.exposure_class, row.status, row.severity]);
  const kept = await store.db.selectFrom('exposure_counts').selectAll().execute();
  const counted = await store.db
    .selectFrom('exposures_current')
    .select(['tenant_id', 'office_id', 'exposure_class', 'status', 'severity'])
    .select((eb) => eb.fn.countAll<number>().as('exposures'))
    .groupBy(['tenant_id', 'office_id', 'exposure_class', 'status', 'severity'])
    .execute();
  const asMap = (rows: typeof kept) =>
    new Map(
      rows.filter((row) => Number(row.exposures) !== 0).map((row) => [key(row), Number(row.exposures)]),
    );
  expect(sortByKey(asMap(kept))).toEqual(sortByKey(asMap(counted)));
}
