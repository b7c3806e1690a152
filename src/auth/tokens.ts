/** Issues HS256 tokens (the demo, the `token` command and tests). */
import { SignJWT } from 'jose';
import type { Role } from '../domain.ts';

export interface TokenClaims {
  tenantId: string;
  officeIds: readonly string[];
  roles: readonly Role[];
  subject?: string;
  /** Lifetime, e.g. "1h" or "30d". */
  expiresIn?: string;
}

export function signToken(secret: string, claims: TokenClaims): Promise<string> {
  return new SignJWT({ tenant_id: claims.tenantId, office_ids: claims.officeIds, roles: claims.roles })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.subject ?? 'exposure-gateway')
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(secret));
}
