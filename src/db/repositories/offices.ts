/** Offices the scope may see, with their open exposure counts. */
import type { Scope } from '../../domain.ts';
import type { Store } from '../database.ts';
import { attributed } from '../telemetry.ts';
import { countOpenExposuresByOffice } from './exposure-counts.ts';
import { scopedOffices } from './scope.ts';

export interface OfficeSummary {
  officeId: string;
  name: string | null;
  lastIngestAt: Date | null;
  openExposures: number;
}

export async function findOffices(db: Store['db'], scope: Scope): Promise<OfficeSummary[]> {
  db = attributed(db, findOffices);
  const offices = await db
    .selectFrom('offices as o')
    .select(['o.office_id', 'o.name', 'o.last_ingest_at'])
    .where((eb) => scopedOffices(eb, scope, 'o'))
    .orderBy('o.office_id')
    .execute();
  if (offices.length === 0) return [];
  const open = await countOpenExposuresByOffice(db, scope);
  return offices.map((row) => ({
    officeId: row.office_id,
    name: row.name,
    lastIngestAt: row.last_ingest_at,
    openExposures: open.get(row.office_id) ?? 0,
  }));
}
