/** Offices the scope may see, with their open exposure counts. */
import { sql } from 'kysely';
import type { Scope } from '../../scope.ts';
import type { Store } from '../database.ts';
import { scopedOffices } from './scope.ts';

export interface OfficeSummary {
  officeId: string;
  name: string | null;
  lastIngestAt: Date | null;
  openExposures: number;
}

export async function findOffices(db: Store['db'], scope: Scope): Promise<OfficeSummary[]> {
  const rows = await db
    .selectFrom('offices as o')
    .select((eb) => [
      'o.office_id',
      'o.name',
      'o.last_ingest_at',
      eb
        .selectFrom('exposures_current as c')
        .select(sql<number>`cast(count(*) as integer)`.as('open_total'))
        .whereRef('c.tenant_id', '=', 'o.tenant_id')
        .whereRef('c.office_id', '=', 'o.office_id')
        .where('c.status', '=', 'OPEN')
        .as('open_exposures'),
    ])
    .where((eb) => scopedOffices(eb, scope, 'o'))
    .orderBy('o.office_id')
    .execute();
  return rows.map((row) => ({
    officeId: row.office_id,
    name: row.name,
    lastIngestAt: row.last_ingest_at,
    openExposures: Number(row.open_exposures ?? 0),
  }));
}
