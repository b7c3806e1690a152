/** Per-request context: who is calling, what they may see, and the store. */
import type { Principal } from './auth/principal.ts';
import { scopeOf } from './auth/principal.ts';
import type { Config } from './config.ts';
import type { Store } from './db/database.ts';
import type { Scope } from './domain.ts';
import type { ChangeFeed } from './ingest/changes.ts';
import type { Metrics } from './metrics.ts';
import type { Tracing } from './tracing.ts';

/** What lives as long as the server. */
export interface GatewayServices {
  config: Config;
  store: Store;
  changes: ChangeFeed;
  /** The clock SLA deadlines and decision expiries are judged by; tests set it. Default: the system's. */
  clock?: () => Date;
  /** The gateway's metrics: the server's, which also counts admission, or made by createGateway. */
  metrics?: Metrics;
  /** Set when tracing is on (config.tracing). */
  tracing?: Tracing;
}

export interface GatewayContext extends GatewayServices {
  principal: Principal;
  /** Every repository call takes this: the tenant and offices of the caller. */
  scope: Scope;
  /** The request's instant: the clock read once, so every field of a response is judged at one time. */
  now(): Date;
}

export function createContext(services: GatewayServices, principal: Principal): GatewayContext {
  const at = services.clock?.() ?? new Date();
  return { ...services, principal, scope: scopeOf(principal), now: () => at };
}
