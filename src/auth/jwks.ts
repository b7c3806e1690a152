/** Public keys for RS256/ES256 tokens, read once from the file named by AUTH_JWKS_FILE. */
import fs from 'node:fs';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../config.ts';

/** Algorithms a JWKS key may sign with; HS256 uses AUTH_JWT_SECRET instead. */
export const JWKS_ALGORITHMS = ['RS256', 'ES256'] as const;

/** Reads and checks the key set; a bad file stops the start with a ConfigError that names it. */
export function readJwksFile(file: string): JWTVerifyGetKey {
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(fs.readFileSync(file, 'utf8')) as JSONWebKeySet;
  } catch (error) {
    throw new ConfigError(`AUTH_JWKS_FILE: cannot read ${file} as JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) {
    throw new ConfigError(`AUTH_JWKS_FILE: ${file} must be a JSON Web Key Set: {"keys": [ ... ]}`);
  }
  // A private or symmetric key here would let anyone who can read the file mint tokens.
  if (jwks.keys.some((key) => 'd' in key || 'k' in key)) {
    throw new ConfigError(`AUTH_JWKS_FILE: ${file} must hold public keys only`);
  }
  try {
    return createLocalJWKSet(jwks);
  } catch (error) {
    throw new ConfigError(`AUTH_JWKS_FILE: ${file} is not a valid key set (${(error as Error).message})`);
  }
}
