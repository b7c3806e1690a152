/** The scope condition every repository query carries. */
import { type ExpressionBuilder, sql } from 'kysely';
import type { Scope } from '../../domain.ts';

/** tenant_id = scope tenant, and office_id in the scope's offices unless it has all of them. */
// biome-ignore lint/suspicious/noExplicitAny: the condition applies to any table alias that has both columns.
export function scopedOffices(eb: ExpressionBuilder<any, any>, scope: Scope, alias: string) {
  const tenant = eb(sql.ref(`${alias}.tenant_id`), '=', scope.tenantId);
  if (scope.officeIds === 'all') return tenant;
  if (scope.officeIds.length === 0) return eb.and([tenant, sql<boolean>`1 = 0`]);
  return eb.and([tenant, eb(sql.ref(`${alias}.office_id`), 'in', scope.officeIds)]);
}
