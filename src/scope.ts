/** What a caller may see and touch: one tenant, and all of its offices or a list of them. */
export interface Scope {
  readonly tenantId: string;
  readonly officeIds: 'all' | readonly string[];
}

export function scopeIncludesOffice(scope: Scope, officeId: string): boolean {
  return scope.officeIds === 'all' || scope.officeIds.includes(officeId);
}
