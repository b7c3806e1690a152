/** `exposure-gateway demo`: a sample tenant in a local database, served with a token to try it. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { signToken } from '../auth/tokens.ts';
import type { Config } from '../config.ts';
import { openStore, type Store } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { ingest } from '../ingest/ingest.ts';
import { serve } from '../server.ts';
import { DEMO_OFFICES, DEMO_TENANT, demoEvents, demoQuarantinedFiles } from './sample.ts';

export const DEFAULT_DEMO_DB = './data/demo.duckdb';
const DEMO_TOKEN_LIFETIME = '7d';

export interface SeedResult {
  eventsInserted: number;
  eventsDuplicate: number;
  exposures: number;
  quarantinedFiles: number;
}

/** Writes the sample through the real ingest path; running it again inserts nothing. */
export async function seedDemo(store: Store, config: Config, anchor = new Date()): Promise<SeedResult> {
  await store.write(async (trx) => {
    await trx.db
      .insertInto('offices')
      .values(
        DEMO_OFFICES.map((office) => ({ tenant_id: DEMO_TENANT, office_id: office.id, name: office.name })),
      )
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'office_id']).doUpdateSet({ name: (eb) => eb.ref('excluded.name') }),
      )
      .execute();
  });

  // The events end at the last full hour, so the newest ones are recent but never in the future.
  const hour = new Date(Math.floor(anchor.getTime() / 3600_000) * 3600_000);
  const events = demoEvents(hour);
  const scope = { tenantId: DEMO_TENANT, officeIds: 'all' as const };
  const result: SeedResult = { eventsInserted: 0, eventsDuplicate: 0, exposures: 0, quarantinedFiles: 0 };
  for (let i = 0; i < events.length; i += config.ingest.chunkSize) {
    const outcome = await ingest({ store, config: config.ingest }, scope, {
      events: events.slice(i, i + config.ingest.chunkSize),
      actor: 'demo',
    });
    result.eventsInserted += outcome.eventsInserted;
    result.eventsDuplicate += outcome.eventsDuplicate;
    result.exposures += outcome.exposuresInserted;
  }

  const files = demoQuarantinedFiles(hour);
  await store.write(async (trx) => {
    const inserted = await trx.db
      .insertInto('quarantined_files')
      .values(
        files.map((file) => ({
          tenant_id: DEMO_TENANT,
          id: file.id,
          filename: file.filename,
          file_size: Buffer.byteLength(file.content),
          file_hash: file.fileHash,
          error_type: file.errorType,
          error_message: file.errorMessage,
          error_details: JSON.stringify(file.errorDetails),
          scanner_type: file.scannerType,
          office_id: file.officeId,
          status: file.status,
          content: file.content,
          content_truncated: false,
          replay_count: file.status === 'REPLAYED' ? 1 : 0,
          discard_reason: file.discardReason,
          quarantined_at: file.quarantinedAt,
          resolved_at: file.resolvedAt,
        })),
      )
      .onConflict((oc) => oc.columns(['tenant_id', 'id']).doNothing())
      .executeTakeFirst();
    result.quarantinedFiles = Number(inserted.numInsertedOrUpdatedRows ?? 0);
  });
  return result;
}

/**
 * In demo mode without a configured key: a random secret for this run, and a token printed to use it
 * (GraphiQL opens with it too).
 */
export async function withDemoSecret(config: Config): Promise<{ config: Config; demoToken?: string }> {
  if (!config.auth.demoMode || config.auth.jwtSecret || config.auth.jwksFile) return { config };
  const jwtSecret = randomBytes(32).toString('base64url');
  const token = await demoToken(jwtSecret);
  console.log(`DEMO_MODE: a JWT secret was generated for this run. Token for tenant "${DEMO_TENANT}":`);
  console.log(token);
  return { config: { ...config, auth: { ...config.auth, jwtSecret } }, demoToken: token };
}

function demoToken(secret: string): Promise<string> {
  return signToken(secret, {
    tenantId: DEMO_TENANT,
    officeIds: ['*'],
    roles: ['viewer', 'ingestor', 'admin'],
    subject: 'demo',
    expiresIn: DEMO_TOKEN_LIFETIME,
  });
}

export interface DemoOptions {
  /** DuckDB file; ignored with DB_TYPE=postgres, where the demo uses DATABASE_URL. */
  dbPath?: string;
  /** false: seed and exit. */
  serve: boolean;
  /** Told when the DuckDB file's WAL had to be replayed by attaching the file (src/db/database.ts). */
  onWalRecovered?: (reason: string) => void;
}

/** Seeds the demo tenant, then serves it in demo mode until SIGTERM/SIGINT. */
export async function runDemo(config: Config, options: DemoOptions): Promise<void> {
  const database: Config['database'] =
    config.database.engine === 'postgres'
      ? config.database
      : // The demo's own file, with the DuckDB settings and query timeout of the configuration.
        { ...config.database, duckdbPath: path.resolve(options.dbPath ?? DEFAULT_DEMO_DB) };
  const where = database.engine === 'duckdb' ? database.duckdbPath : 'PostgreSQL (DATABASE_URL)';
  const store = await openStore(
    database,
    options.onWalRecovered ? { onWalRecovered: options.onWalRecovered } : {},
  );
  let seeded: SeedResult;
  try {
    await migrateToLatest(store);
    const started = performance.now();
    seeded = await seedDemo(store, config);
    console.log(
      `demo data in ${where}: ${seeded.eventsInserted} events inserted, ${seeded.eventsDuplicate} already there, ` +
        `${seeded.exposures} new exposures, ${seeded.quarantinedFiles} new quarantined files ` +
        `(${Math.round(performance.now() - started)} ms)`,
    );
  } catch (error) {
    await store.close();
    throw error;
  }
  if (!options.serve) {
    await store.close();
    return;
  }

  const jwtSecret = config.auth.jwtSecret ?? randomBytes(32).toString('base64url');
  const token = await demoToken(jwtSecret);
  const demoConfig: Config = { ...config, database, auth: { ...config.auth, jwtSecret, demoMode: true } };
  await serve(demoConfig, {
    store,
    demoToken: token,
    onListening: (url) =>
      console.log(
        [
          '',
          `GraphiQL:  ${url}/graphql`,
          `Token (tenant "${DEMO_TENANT}", roles viewer, ingestor, admin; valid ${DEMO_TOKEN_LIFETIME}):`,
          '',
          token,
          '',
          'GraphiQL opens with it in its Headers tab. From a shell:',
          `  curl -s ${url}/graphql -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`,
          `    -d '{"query":"{ offices { id name openExposures } }"}'`,
          '',
          'Stop with Ctrl-C.',
        ].join('\n'),
      ),
  });
}
