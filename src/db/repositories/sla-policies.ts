/** SLA policies: days to remediate per severity, per tenant; a tenant without a row has the defaults. */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { DEFAULT_SLA_POLICY, SEVERITIES, type Severity, type SlaPolicy } from '../../domain.ts';
import type { Database, SlaPolicyTable } from '../tables.ts';
import { attributed } from '../telemetry.ts';

const COLUMN: Record<Severity, 'critical' | 'high' | 'medium' | 'low' | 'info'> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MEDIUM: 'medium',
  LOW: 'low',
  INFO: 'info',
};

/** The tenant's policy, or the defaults when it has set none. */
export async function findSlaPolicy(db: Kysely<Database>, tenantId: string): Promise<SlaPolicy> {
  db = attributed(db, findSlaPolicy);
  const row = await db
    .selectFrom('sla_policies')
    .select(Object.values(COLUMN))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (!row) return { ...DEFAULT_SLA_POLICY };
  return Object.fromEntries(
    SEVERITIES.map((severity) => {
      const days = row[COLUMN[severity]];
      return [severity, days === null ? null : Number(days)];
    }),
  ) as SlaPolicy;
}

/** Stores the tenant's whole policy, replacing the one it had. */
export async function saveSlaPolicy(
  db: Kysely<Database>,
  tenantId: string,
  policy: SlaPolicy,
  at: Date,
): Promise<void> {
  db = attributed(db, saveSlaPolicy);
  const days = Object.fromEntries(SEVERITIES.map((s) => [COLUMN[s], policy[s]])) as Pick<
    SlaPolicyTable,
    (typeof COLUMN)[Severity]
  >;
  const row = { tenant_id: tenantId, ...days, updated_at: at.toISOString() };
  await db
    .insertInto('sla_policies')
    .values(row)
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ...days, updated_at: row.updated_at }))
    .execute();
}

/**
 * The tenant's SLA days per severity as rows (severity, days), the defaults where it has no policy: the
 * table read filters join exposures to, so a policy change applies at once and nothing is stored per
 * exposure.
 */
export function slaDaysSql(tenantId: string): RawBuilder<{ severity: Severity; days: number | null }> {
  const defaults = SEVERITIES.map(
    (s) =>
      sql`(${sql.lit(s)}, cast(${DEFAULT_SLA_POLICY[s] === null ? sql`null` : sql.lit(DEFAULT_SLA_POLICY[s])} as integer))`,
  );
  const chosen = sql.join(
    SEVERITIES.map((s) => sql`when ${sql.lit(s)} then ${sql.ref(`p.${COLUMN[s]}`)}`),
    sql` `,
  );
  return sql`(select d.severity, case when p.tenant_id is null then d.default_days
      else case d.severity ${chosen} end end as days
    from (values ${sql.join(defaults)}) as d(severity, default_days)
    left join sla_policies as p on p.tenant_id = ${tenantId})`;
}
