/** Turns the Authorization header into a Principal, or a client error with a code. */
import { errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { clientError } from '../errors.ts';
import { type Principal, ROLES } from './principal.ts';

const claimsSchema = z.object({
  tenant_id: z.string().min(1),
  office_ids: z.array(z.string().min(1)).min(1),
  roles: z.array(z.enum(ROLES)).min(1),
  sub: z.string().optional(),
});

export interface AuthenticatorOptions {
  jwtSecret?: string;
}

export type Authenticator = (request: Request) => Promise<Principal>;

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;
  return async (request) => {
    const header = request.headers.get('authorization');
    if (!header)
      throw clientError(
        'UNAUTHENTICATED',
        'missing Authorization header: send "Authorization: Bearer <token>"',
      );
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1])
      throw clientError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
    const token = match[1];
    if (!secret)
      throw clientError('UNAUTHENTICATED', 'this gateway accepts no JWTs: AUTH_JWT_SECRET is not set');
    return verifyJwt(token, secret);
  };
}

async function verifyJwt(token: string, secret: Uint8Array): Promise<Principal> {
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], requiredClaims: ['exp'] }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired)
      throw clientError('UNAUTHENTICATED', 'the token has expired', { reason: 'TOKEN_EXPIRED' });
    throw clientError('UNAUTHENTICATED', 'the token is not valid', { reason: 'TOKEN_INVALID' });
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) {
    const fields = claims.error.issues.map((issue) => issue.path.join('.')).join(', ');
    throw clientError('UNAUTHENTICATED', `the token's claims are not valid (${fields})`, {
      reason: 'TOKEN_CLAIMS',
    });
  }
  const { tenant_id, office_ids, roles, sub } = claims.data;
  return {
    subject: sub ?? 'jwt',
    kind: 'jwt',
    tenantId: tenant_id,
    officeIds: office_ids.includes('*') ? 'all' : office_ids,
    roles,
  };
}
