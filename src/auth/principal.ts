/** Who is calling: a tenant, the offices they may see, and what they may do. */
import type { Role, Scope } from '../domain.ts';

export interface Principal {
  /** Token subject or API key id, for logs. */
  subject: string;
  /** Recorded on the events it writes: the token's subject, the API key's name; null for a token without one. */
  actor: string | null;
  kind: 'jwt' | 'api-key';
  tenantId: string;
  officeIds: 'all' | readonly string[];
  roles: readonly Role[];
}

export function scopeOf(principal: Principal): Scope {
  return { tenantId: principal.tenantId, officeIds: principal.officeIds };
}

/** viewer: queries and subscriptions; ingestor: ingest mutations; analyst: reads and triage; admin: everything. */
export function authScopesOf(principal: Principal) {
  const has = (role: Role) => principal.roles.includes(role) || principal.roles.includes('admin');
  return {
    viewer: has('viewer') || has('analyst'),
    ingestor: has('ingestor'),
    analyst: has('analyst'),
    admin: has('admin'),
  };
}
