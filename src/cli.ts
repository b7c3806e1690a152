/** The exposure-gateway command line: the only place that starts a server. */
import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { openStore, type Store } from './db/database.ts';
import { migrateDown, migrateToLatest, migrationStatus } from './db/migrate.ts';
import { rebuildCurrent } from './ingest/writer.ts';

const USAGE = `Usage: exposure-gateway <command> [options]

Commands:
  migrate [up|down|status]   apply, revert (one step) or list migrations
  rebuild-current [--tenant ID]
                             recompute exposures_current from the event log

Environment: DB_TYPE (duckdb|postgres), DB_PATH, DATABASE_URL; see README.md.`;

type Command = (config: Config, args: string[]) => Promise<void>;

async function withStore<T>(config: Config, work: (store: Store) => Promise<T>, migrate = true): Promise<T> {
  const store = await openStore(config.database);
  try {
    if (migrate) await migrateToLatest(store);
    return await work(store);
  } finally {
    await store.close();
  }
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
      const rows = await store.write((trx) => rebuildCurrent(trx, values.tenant));
      console.log(`rebuilt ${rows} exposures in ${Math.round(performance.now() - started)} ms`);
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
    await command(loadConfig(), args);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError) {
      console.error(`exposure-gateway: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
