/** A gateway over a real engine, called through yoga.fetch. */

import { signToken } from '../../src/auth/tokens.ts';
import type { Engine } from '../../src/config.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import type { Role } from '../../src/domain.ts';
import { ChangeFeed } from '../../src/ingest/changes.ts';
import type { Logger } from '../../src/log.ts';
import { createGateway, type Gateway } from '../../src/yoga.ts';
import { openTestStore, type TestStore } from './engines.ts';

export const TEST_SECRET = 'test-secret-that-is-long-enough';

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
}

export interface TestGateway extends TestStore {
  yoga: Gateway;
  config: Config;
  changes: ChangeFeed;
  /** The gateway's clock: the system's until a test sets an instant. */
  clock: { at: Date | null };
  token(claims?: {
    tenantId?: string;
    officeIds?: string[];
    roles?: Role[];
    expiresIn?: string;
  }): Promise<string>;
  /** Runs a document as the holder of `token` (a viewer of every office of tenant "acme" by default). */
  graphql<T = Record<string, unknown>>(
    document: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<GraphQLResponse<T>>;
}

export async function openTestGateway(
  engine: Engine,
  env: Record<string, string> = {},
  /** Where the gateway logs; by default nowhere (LOG_LEVEL=silent). */
  logger?: Logger,
): Promise<TestGateway> {
  const config = loadConfig({ AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', ...env });
  // The store is the test database's; only a query timeout set for the test carries over.
  const t = await openTestStore(
    engine,
    env.QUERY_TIMEOUT_MS ? { queryTimeoutMs: config.database.queryTimeoutMs } : {},
  );
  const changes = new ChangeFeed();
  const clock: TestGateway['clock'] = { at: null };
  const yoga = createGateway(
    { config, store: t.store, changes, clock: () => clock.at ?? new Date() },
    logger ? { logger } : {},
  );
  const token: TestGateway['token'] = (claims = {}) =>
    signToken(TEST_SECRET, {
      tenantId: claims.tenantId ?? 'acme',
      officeIds: claims.officeIds ?? ['*'],
      roles: claims.roles ?? ['viewer'],
      ...(claims.expiresIn ? { expiresIn: claims.expiresIn } : {}),
    });
  const defaultToken = await token();
  return {
    ...t,
    yoga,
    config,
    changes,
    clock,
    token,
    async graphql(document, variables, bearer = defaultToken) {
      const response = await yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ query: document, variables }),
      });
      return { status: response.status, ...((await response.json()) as object) };
    },
  };
}
