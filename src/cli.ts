/** The exposure-gateway command line: the only place that starts a server. */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createApiKey, listApiKeys, revokeApiKey } from './auth/api-keys.ts';
import { signToken } from './auth/tokens.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { openStore, type Store, WAL_RECOVERED } from './db/database.ts';
import { migrateDown, migrateToLatest, migrationStatus } from './db/migrate.ts';
import { rebuildCurrent } from './db/repositories/event-log.ts';
import { rebuildRollups } from './db/repositories/event-rollups.ts';
import { ROLES, type Role } from './domain.ts';
import { SCAN_FILE_FORMATS, type ScanFileFormat } from './ingest/formats/index.ts';

const USAGE = `Usage: exposure-gateway <command> [options]

Commands:
  migrate [up|down|status]   apply, revert (one step) or list migrations
  rebuild-current [--tenant ID]
                             recompute exposures_current, its counts and the event rollups from the log
  serve                      run migrations, then serve /graphql, /health and /ready on HOST:PORT
  demo [--db FILE] [--seed-only]
                             sample data for tenant "demo" (default ./data/demo.duckdb), then serve it
  token --tenant T --roles R[,R] [--offices '*'|a,b] [--expires 1h] [--subject S]
                             print a JWT signed with AUTH_JWT_SECRET
  keys create --tenant T --name N --roles R[,R] [--offices '*'|a,b]
                             create an API key and print it (it is shown only this once)
  keys list --tenant T       the tenant's API keys (never the keys themselves)
  keys revoke ID --tenant T  revoke an API key at once
  ingest FILE... --tenant T [--office O] [--scanner-type S] [--format events|nmap|nuclei]
                             ingest scan files into the local database, a commit per
                             INGEST_CHUNK_SIZE events; a bad file goes to the quarantine and the
                             command ends with 1. events (default): JSON array or JSON Lines; nmap
                             (-oX) and nuclei (-jsonl) files are one scan run each, completed once
                             their events are in (they need --office; the scanner type defaults
                             to the format)
  ingest FILE... --url URL --token TOKEN [--office O] [--scanner-type S] [--format F]
                             the same through a remote gateway's GraphQL endpoint
  complete-run --office O --run R --scanner S [--at T] [--started T]
               [--classes C,..] [--cidrs CIDR,..] [--ports P,..] (--tenant T | --url URL --token TOKEN)
                             complete a scan run at T (default now): every OPEN exposure of the
                             office last reported by S, inside the scope and not observed by the run
                             is closed as not_observed; a second completion changes nothing

Environment: DB_TYPE (duckdb|postgres), DB_PATH, DATABASE_URL; see README.md.`;

function warnWalRecovered(reason: string): void {
  console.error(`exposure-gateway: ${WAL_RECOVERED} (${reason})`);
}

/** Resolves to the exit code, or to nothing for 0. */
// biome-ignore lint/suspicious/noConfusingVoidType: most commands have no exit code of their own.
type Command = (config: Config, args: string[]) => Promise<number | void>;

async function withStore<T>(config: Config, work: (store: Store) => Promise<T>, migrate = true): Promise<T> {
  const store = await openStore(config.database, { onWalRecovered: warnWalRecovered });
  try {
    if (migrate) await migrateToLatest(store);
    return await work(store);
  } finally {
    await store.close();
  }
}

/** "viewer,ingestor" -> roles; anything else is a usage error. */
function parseRoles(text: string | undefined): Role[] {
  const roles = (text ?? '').split(',').map((role) => role.trim());
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (!text || unknown.length > 0) {
    throw new UsageError(`--roles must list ${ROLES.join(', ')} separated by commas, got "${text ?? ''}"`);
  }
  return roles as Role[];
}

/** "*" -> every office of the tenant; "a,b" -> those offices. */
function parseOffices(text = '*'): string[] {
  const offices = text.split(',').map((office) => office.trim());
  if (offices.some((office) => office === ''))
    throw new UsageError(`--offices: empty office id in "${text}"`);
  return offices.includes('*') ? ['*'] : offices;
}

function required(value: string | undefined, option: string): string {
  if (!value) throw new UsageError(`${option} is required`);
  return value;
}

const commands: Record<string, Command> = {
  async migrate(config, args) {
    const action = args[0] ?? 'up';
    await withStore(
      config,
      async (store) => {
        if (action === 'up') {
          const { results = [] } = await migrateToLatest(store);
          console.log(
            results.length
              ? results.map((r) => `applied ${r.migrationName}`).join('\n')
              : 'already up to date',
          );
        } else if (action === 'down') {
          const { results = [] } = await migrateDown(store);
          console.log(
            results.length
              ? results.map((r) => `reverted ${r.migrationName}`).join('\n')
              : 'nothing to revert',
          );
        } else if (action === 'status') {
          for (const m of await migrationStatus(store)) {
            console.log(`${m.executedAt ? `applied ${m.executedAt.toISOString()}` : 'pending'}  ${m.name}`);
          }
        } else {
          throw new UsageError(`unknown migrate action "${action}": use up, down or status`);
        }
      },
      false,
    );
  },

  async 'rebuild-current'(config, args) {
    const { values } = parseArgs({ args, options: { tenant: { type: 'string' } } });
    await withStore(config, async (store) => {
      const started = performance.now();
      const [exposures, rollups] = await store.write(async (trx) => [
        await rebuildCurrent(trx, values.tenant),
        await rebuildRollups(trx, values.tenant),
      ]);
      const ms = Math.round(performance.now() - started);
      console.log(`rebuilt ${exposures} exposures and ${rollups} event rollups in ${ms} ms`);
    });
  },

  // The server modules load the schema and yoga: imported only by the commands that serve.
  async serve(config) {
    const [{ serve }, { withDemoSecret }] = await Promise.all([
      import('./server.ts'),
      import('./demo/demo.ts'),
    ]);
    const demo = await withDemoSecret(config);
    await serve(demo.config, demo.demoToken ? { demoToken: demo.demoToken } : {});
  },

  async demo(config, args) {
    const { values } = parseArgs({
      args,
      options: { db: { type: 'string' }, 'seed-only': { type: 'boolean', default: false } },
    });
    const { runDemo } = await import('./demo/demo.ts');
    await runDemo(config, {
      ...(values.db ? { dbPath: values.db } : {}),
      serve: !values['seed-only'],
      onWalRecovered: warnWalRecovered,
    });
  },

  async token(config, args) {
    const { values } = parseArgs({
      args,
      options: {
        tenant: { type: 'string' },
        offices: { type: 'string' },
        roles: { type: 'string' },
        expires: { type: 'string', default: '1h' },
        subject: { type: 'string' },
      },
    });
    if (!config.auth.jwtSecret) throw new UsageError('AUTH_JWT_SECRET must be set to sign a token');
    const claims = {
      tenantId: required(values.tenant, '--tenant'),
      officeIds: parseOffices(values.offices),
      roles: parseRoles(values.roles),
      expiresIn: values.expires,
      ...(values.subject ? { subject: values.subject } : {}),
    };
    try {
      console.log(await signToken(config.auth.jwtSecret, claims));
    } catch (error) {
      throw new UsageError(
        `--expires "${values.expires}": ${(error as Error).message} (use e.g. 30m, 1h, 7d)`,
      );
    }
  },

  async ingest(config, args) {
    const { values, positionals: files } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        office: { type: 'string' },
        'scanner-type': { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        format: { type: 'string', default: 'events' },
      },
    });
    if (files.length === 0) throw new UsageError('ingest needs at least one FILE');
    const unreadable = files.filter((file) => !fs.statSync(file, { throwIfNoEntry: false })?.isFile());
    if (unreadable.length > 0) throw new UsageError(`not a readable file: ${unreadable.join(', ')}`);
    const format = values.format as ScanFileFormat;
    if (!SCAN_FILE_FORMATS.includes(format)) {
      throw new UsageError(`--format must be one of ${SCAN_FILE_FORMATS.join(', ')}, got "${values.format}"`);
    }
    // A scanner's file is one run of one office: its events name neither.
    if (format !== 'events') required(values.office, `--office (for --format ${format})`);
    const options = {
      files,
      officeId: values.office,
      scannerType: values['scanner-type'] ?? (format === 'events' ? undefined : format),
      format,
    };
    const { ingestFilesLocally, ingestFilesRemotely } = await import('./client/ingest-command.ts');
    let quarantined: number;
    if (values.url || values.token) {
      if (values.tenant)
        throw new UsageError('--tenant is for local ingest; a remote gateway takes the tenant from --token');
      const { GatewayClient, GatewayError } = await import('./client/gateway-client.ts');
      const client = new GatewayClient(required(values.url, '--url'), required(values.token, '--token'));
      try {
        quarantined = await ingestFilesRemotely(config, client, options);
      } catch (error) {
        // A refused token or an unreachable gateway is the caller's to fix, not a crash.
        if (!(error instanceof GatewayError)) throw error;
        throw new UsageError(`${values.url}: ${error.message}${error.code ? ` (${error.code})` : ''}`);
      }
    } else {
      const tenantId = required(values.tenant, '--tenant');
      quarantined = await withStore(config, (store) => ingestFilesLocally(config, store, tenantId, options));
    }
    return quarantined > 0 ? 1 : 0;
  },

  async 'complete-run'(config, args) {
    const { values } = parseArgs({
      args,
      options: {
        tenant: { type: 'string' },
        office: { type: 'string' },
        run: { type: 'string' },
        scanner: { type: 'string' },
        at: { type: 'string' },
        started: { type: 'string' },
        classes: { type: 'string' },
        cidrs: { type: 'string' },
        ports: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
      },
    });
    const instant = (text: string | undefined, option: string) => {
      if (text === undefined) return undefined;
      // An instant needs its offset: local time would depend on the machine that runs the command.
      if (!/(Z|[+-]\d{2}:\d{2})$/i.test(text) || Number.isNaN(Date.parse(text))) {
        throw new UsageError(
          `${option} must be an ISO-8601 instant with an offset, e.g. 2026-03-02T09:00:00Z`,
        );
      }
      return new Date(text).toISOString();
    };
    const list = (text: string | undefined) => text?.split(',').map((item) => item.trim());
    const scope = {
      ...(values.classes ? { exposureClasses: list(values.classes) } : {}),
      ...(values.cidrs ? { dstIpIn: list(values.cidrs) } : {}),
      ...(values.ports ? { dstPortRanges: list(values.ports) } : {}),
    };
    const request = {
      officeId: required(values.office, '--office'),
      scanRunId: required(values.run, '--run'),
      scannerType: required(values.scanner, '--scanner'),
      completedAt: instant(values.at, '--at') ?? new Date().toISOString(),
      startedAt: instant(values.started, '--started') ?? null,
      scope: Object.keys(scope).length > 0 ? scope : null,
    };
    const { completeRunLocally, completeRunRemotely, CompleteRunError, runLine } = await import(
      './client/scan-run-command.ts'
    );
    if (values.url || values.token) {
      if (values.tenant)
        throw new UsageError('--tenant is for a local run; a remote gateway takes the tenant from --token');
      const { GatewayClient, GatewayError } = await import('./client/gateway-client.ts');
      const client = new GatewayClient(required(values.url, '--url'), required(values.token, '--token'));
      try {
        console.log(runLine(await completeRunRemotely(client, request)));
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        throw new UsageError(`${values.url}: ${error.message}${error.code ? ` (${error.code})` : ''}`);
      }
      return;
    }
    const tenantId = required(values.tenant, '--tenant');
    const { LOCAL_ACTOR } = await import('./client/ingest-command.ts');
    try {
      const run = await withStore(config, (store) =>
        completeRunLocally(config, store, tenantId, { ...request, actor: LOCAL_ACTOR }),
      );
      console.log(runLine(run));
    } catch (error) {
      if (error instanceof CompleteRunError) throw new UsageError(error.message);
      throw error;
    }
  },

  async keys(config, args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        name: { type: 'string' },
        roles: { type: 'string' },
        offices: { type: 'string' },
      },
    });
    const [action, id] = positionals;
    if (!['create', 'list', 'revoke'].includes(action ?? '')) {
      throw new UsageError(`unknown keys action "${action ?? ''}": use create, list or revoke`);
    }
    const tenantId = required(values.tenant, '--tenant');
    await withStore(config, async (store) => {
      if (action === 'create') {
        const offices = parseOffices(values.offices);
        const { key, record } = await createApiKey(store, {
          tenantId,
          name: required(values.name, '--name'),
          roles: parseRoles(values.roles),
          officeIds: offices.includes('*') ? 'all' : offices,
        });
        console.error(`created API key ${record.id} for tenant ${tenantId}; it is shown only this once:`);
        console.log(key);
      } else if (action === 'list') {
        for (const k of await listApiKeys(store, tenantId)) {
          const offices = k.officeIds === 'all' ? '*' : k.officeIds.join(',');
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
          console.log(
            [k.id, k.name, k.roles.join(','), offices, `created ${k.createdAt.toISOString()}`, state].join(
              '\t',
            ),
          );
        }
      } else {
        const revoked = await revokeApiKey(store, tenantId, required(id, 'the key id'));
        if (!revoked) throw new UsageError(`tenant ${tenantId} has no API key ${id}`);
        console.log(`revoked API key ${revoked.id} (${revoked.name}) at ${revoked.revokedAt?.toISOString()}`);
      }
    });
  },
};

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return (await command(loadConfig(), args)) ?? 0;
  } catch (error) {
    // parseArgs reports unknown or malformed options as ERR_PARSE_ARGS_* errors.
    const badOption = String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
    if (error instanceof ConfigError || error instanceof UsageError || badOption) {
      console.error(`exposure-gateway: ${(error as Error).message}`);
      return 2;
    }
    // DuckDB lets one process open a file: usually a running server holds it.
    if (String((error as Error).message).includes('Could not set lock on file')) {
      console.error(
        `exposure-gateway: ${(error as Error).message}\nStop the process that has the DuckDB file open (a running server?) and retry, or use PostgreSQL.`,
      );
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
