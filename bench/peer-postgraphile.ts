/**
 * bench:peer's PostGraphile server (bench/peer.ts runs it in a child process of its own): PostGraphile 5
 * over the schema the gateway's migrations made, with connection-filter and pg-aggregates, over grafserv on
 * node:http, without auth.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { jsonPgSmartTags } from 'postgraphile/utils';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';

declare global {
  namespace GraphileBuild {
    interface AggregateSpecIds {
      count: true;
    }
  }
}

/**
 * pg-aggregates counts per group only as `distinctCount`, a count(distinct ...) that sorts each group's
 * values. This adds `count`, a plain count(column), through the aggregate-spec extension point its README
 * documents: on a not-null column it counts the rows, as the gateway's count(*) does.
 */
const PgAggregatesCountPlugin: GraphileConfig.Plugin = {
  name: 'PgAggregatesCountPlugin',
  version: '1.0.0',
  after: ['PgAggregatesSpecsPlugin'],
  schema: {
    hooks: {
      build(build) {
        const { sql, dataplanPg, pgAggregateSpecs } = build;
        if (!sql || !dataplanPg || !pgAggregateSpecs) throw new Error('pg-aggregates must be loaded first');
        pgAggregateSpecs.push({
          id: 'count',
          humanLabel: 'count',
          HumanLabel: 'Count',
          isSuitableType: () => true,
          sqlAggregateWrap: (fragment) => sql`count(${fragment})`,
          pgTypeCodecModifier: () => dataplanPg.TYPES.bigint,
          isNonNull: true,
        });
        return build;
      },
    },
  },
};

/** The URL with the session setting the gateway's own pool adds (src/db/database.ts): jit=off. */
function withJitOff(url: string): string {
  const parsed = new URL(url);
  const own = parsed.searchParams.get('options');
  parsed.searchParams.set('options', ['-c jit=off', own].filter(Boolean).join(' '));
  return parsed.toString();
}

/**
 * PostGraphile 5 over the schema the migrations made: the Amber preset with connection-filter and
 * pg-aggregates, no auth (nothing in pgSettings, so no transaction around a request).
 */
export async function servePostGraphile(url: string, poolSize: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ schema: string }>('select current_schema() as schema');
  await client.end();
  const preset: GraphileConfig.Preset = {
    extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset, PgAggregatesPreset],
    // By default PostGraphile filters and orders only by indexed columns; the gateway's API filters by
    // severity rank and orders by risk score, which have no index of their own.
    disablePlugins: ['PgIndexBehaviorsPlugin'],
    plugins: [
      PgAggregatesCountPlugin,
      // The schema has no foreign keys; this one lets an office's exposures be read (and counted) from it.
      jsonPgSmartTags({
        version: 1,
        config: {
          class: {
            exposures_current: {
              tags: { foreignKey: '(tenant_id, office_id) references offices (tenant_id, office_id)' },
            },
          },
        },
      }),
    ],
    pgServices: [
      makePgService({
        connectionString: withJitOff(url),
        schemas: [rows[0]!.schema],
        poolConfig: { max: poolSize },
      }),
    ],
    grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false, websockets: false },
  };
  const instance = postgraphile(preset);
  const serv = instance.createServ(grafserv);
  const server = http.createServer();
  await serv.addTo(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await instance.release();
    },
  };
}
