/** Reading exposures_current back in the shape of foldEvents(), to compare the two. */
import { expect } from 'vitest';
import type { Store } from '../../src/db/database.ts';
import { type ExposureRow, SEVERITIES } from '../../src/db/tables.ts';
import type { ExposureEvent } from '../../src/ingest/event.ts';
import { type ExposureState, exposureKey, foldEvents } from '../../src/ingest/fold.ts';
import { ipKey } from '../../src/ingest/ip.ts';
import { validateEvents } from '../../src/ingest/validate.ts';

/** A row of exposures_current as an ExposureState, checking the derived columns on the way. */
export function toState(row: ExposureRow): ExposureState {
  expect(row.severity_rank).toBe(SEVERITIES.indexOf(row.severity));
  expect(row.dst_ip_key).toBe(row.dst_ip === null ? null : ipKey(row.dst_ip));
  return {
    officeId: row.office_id,
    exposureId: row.exposure_id,
    exposureClass: row.exposure_class,
    status: row.status,
    severity: row.severity,
    eventAction: row.event_action,
    eventKind: row.event_kind,
    assetId: row.asset_id,
    assetHostname: row.asset_hostname,
    assetIp: row.asset_ip,
    riskScore: row.risk_score,
    confidence: row.confidence,
    dstIp: row.dst_ip,
    dstPort: row.dst_port,
    protocol: row.protocol,
    serviceName: row.service_name,
    serviceProduct: row.service_product,
    serviceVersion: row.service_version,
    // DuckDB reads JSON back as text, PostgreSQL as a value.
    resource: typeof row.resource === 'string' ? JSON.parse(row.resource) : row.resource,
    dispositionStatus: row.disposition_status,
    dispositionReason: row.disposition_reason,
    firstSeen: row.first_seen.toISOString(),
    lastSeen: row.last_seen.toISOString(),
    lastEventId: row.last_event_id,
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

function sortByKey(states: Map<string, ExposureState>): [string, ExposureState][] {
  return [...states.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Event inputs as validated events; fails the test when one is rejected. */
export function validated(inputs: readonly Record<string, unknown>[]): ExposureEvent[] {
  const { valid, rejected } = validateEvents(inputs, { maxFutureSkewSeconds: 300 });
  expect(rejected).toEqual([]);
  return valid.map((v) => v.event);
}
