/** Turns the Authorization header into a Principal, or a client error with a code. */
import { type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import type { Store } from '../db/database.ts';
import { ROLES } from '../domain.ts';
import { clientError } from '../errors.ts';
import { authenticateApiKey, isApiKey } from './api-keys.ts';
import { JWKS_ALGORITHMS } from './jwks.ts';
import type { Principal } from './principal.ts';

const claimsSchema = z.object({
  tenant_id: z.string().min(1),
  office_ids: z.array(z.string().min(1)).min(1),
  roles: z.array(z.enum(ROLES)).min(1),
  sub: z.string().optional(),
});

export interface AuthenticatorOptions {
  /** Verifies HS256 tokens. */
  jwtSecret?: string;
  /** Verifies RS256/ES256 tokens (see readJwksFile). */
  jwks?: JWTVerifyGetKey;
  /** Where API keys are looked up; without it API keys are refused. */
  apiKeys?: Store['db'];
}

export type Authenticator = (request: Request) => Promise<Principal>;

/**
 * JWTs already verified, by their text, until they expire: a signed token cannot change, and verifying
 * it (HMAC or signature, then the claims) is most of what authentication costs per request.
 */
class VerifiedTokens {
  static readonly MAX = 10_000;
  readonly #tokens = new Map<string, { principal: Principal; expiresAt: number }>();

  get(token: string): Principal | undefined {
    const hit = this.#tokens.get(token);
    if (hit && hit.expiresAt > Date.now()) return hit.principal;
    if (hit) this.#tokens.delete(token);
    return undefined;
  }

  set(token: string, principal: Principal, expiresAt: number) {
    // Oldest first: a Map iterates in insertion order.
    if (this.#tokens.size >= VerifiedTokens.MAX) this.#tokens.delete(this.#tokens.keys().next().value!);
    this.#tokens.set(token, { principal, expiresAt });
  }
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;
  const { jwks, apiKeys } = options;
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? JWKS_ALGORITHMS : [])];
  // jose checks the header's alg against `algorithms` before asking for a key.
  const keyFor: JWTVerifyGetKey = (header, token) =>
    header.alg === 'HS256' ? secret! : jwks!(header, token);
  const verified = new VerifiedTokens();
  return async (request) => {
    const header = request.headers.get('authorization');
    if (!header)
      throw clientError(
        'UNAUTHENTICATED',
        'missing Authorization header: send "Authorization: Bearer <token>"',
        { reason: 'TOKEN_MISSING' },
      );
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1])
      throw clientError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"', {
        reason: 'TOKEN_MISSING',
      });
    const token = match[1];
    if (isApiKey(token)) {
      if (!apiKeys) throw clientError('UNAUTHENTICATED', 'this gateway accepts no API keys');
      return authenticateApiKey(apiKeys, token);
    }
    if (algorithms.length === 0)
      throw clientError(
        'UNAUTHENTICATED',
        'this gateway accepts no JWTs: neither AUTH_JWT_SECRET nor AUTH_JWKS_FILE is set',
      );
    const known = verified.get(token);
    if (known) return known;
    const { principal, expiresAt } = await verifyJwt(token, keyFor, algorithms);
    verified.set(token, principal, expiresAt);
    return principal;
  };
}

async function verifyJwt(
  token: string,
  keyFor: JWTVerifyGetKey,
  algorithms: string[],
): Promise<{ principal: Principal; expiresAt: number }> {
  let payload: { exp?: number };
  try {
    ({ payload } = await jwtVerify(token, keyFor, { algorithms, requiredClaims: ['exp'] }));
  } catch (error) {
    throw jwtError(error, algorithms);
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
    principal: {
      subject: sub ?? 'jwt',
      actor: sub ?? null,
      kind: 'jwt',
      tenantId: tenant_id,
      officeIds: office_ids.includes('*') ? 'all' : office_ids,
      roles,
    },
    // exp is a required claim: jose has checked that it is there.
    expiresAt: payload.exp! * 1000,
  };
}

function jwtError(error: unknown, algorithms: string[]) {
  if (error instanceof joseErrors.JWTExpired)
    return clientError('UNAUTHENTICATED', 'the token has expired', { reason: 'TOKEN_EXPIRED' });
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return clientError('UNAUTHENTICATED', `the token's "${error.claim}" claim is missing or not valid`, {
      reason: 'TOKEN_CLAIMS',
    });
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return clientError(
      'UNAUTHENTICATED',
      `the token's signing algorithm is not accepted here (accepted: ${algorithms.join(', ')})`,
      { reason: 'TOKEN_ALGORITHM' },
    );
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return clientError('UNAUTHENTICATED', 'no key of AUTH_JWKS_FILE matches the token', {
      reason: 'TOKEN_INVALID',
    });
  return clientError('UNAUTHENTICATED', 'the token is not valid', { reason: 'TOKEN_INVALID' });
}
