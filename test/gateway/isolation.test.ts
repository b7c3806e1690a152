/**
 * Tenant and office isolation over the whole schema: every root query field is walked with every field it
 * can select, so a field added later is covered without touching this test.
 */
import {
  type GraphQLArgument,
  GraphQLEnumType,
  type GraphQLField,
  GraphQLInputObjectType,
  type GraphQLInputType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLObjectType,
  type GraphQLOutputType,
  GraphQLScalarType,
  getNamedType,
  isInterfaceType,
  isObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/domain.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { completeScanRun } from '../../src/ingest/scan-runs.ts';
import { schema } from '../../src/schema/index.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const RANGE = { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' };
/** The scan run id every tenant and office uses, so the walk can name one that exists in each. */
const RUN = 'run-1';
const MAX_DEPTH = 4;

/** A literal for an argument the walker has to pass: the shared ids, the data's time range, every enum value. */
function literal(type: GraphQLInputType, name: string): string | undefined {
  if (type instanceof GraphQLNonNull) return literal(type.ofType, name);
  if (type instanceof GraphQLList) {
    const inner = getNamedType(type);
    if (inner instanceof GraphQLEnumType)
      return `[${inner
        .getValues()
        .map((v) => v.name)
        .join(', ')}]`;
    const item = literal(type.ofType, name);
    return item === undefined ? undefined : `[${item}]`;
  }
  if (type instanceof GraphQLEnumType) return name === 'bucket' ? 'DAY' : type.getValues()[0]?.name;
  if (type instanceof GraphQLInputObjectType) {
    const fields = Object.values(type.getFields())
      .map((field) => {
        const value =
          field.type instanceof GraphQLNonNull || /^(from|to)$/.test(field.name)
            ? literal(field.type, field.name)
            : undefined;
        return value === undefined ? undefined : `${field.name}: ${value}`;
      })
      .filter(Boolean);
    return `{ ${fields.join(', ')} }`;
  }
  if (type instanceof GraphQLScalarType) {
    if (type.name === 'DateTime') return JSON.stringify(/to$/i.test(name) ? RANGE.to : RANGE.from);
    if (type.name === 'Int') return '50';
    if (name === 'officeId') return '"berlin"';
    if (name === 'exposureId') return '"exp-1"';
    if (name === 'scanRunId') return `"${RUN}"`;
    return '"x"';
  }
  return undefined;
}

function argumentsOf(args: readonly GraphQLArgument[], mustHave: boolean): string {
  const parts = args
    .filter(
      (a) =>
        a.type instanceof GraphQLNonNull || a.name === 'first' || (mustHave && /^(from|to)$/.test(a.name)),
    )
    .map((a) => `${a.name}: ${literal(a.type, a.name)}`);
  return parts.length ? `(${parts.join(', ')})` : '';
}

/** Every selectable field of a type, nested to MAX_DEPTH. */
function selection(type: GraphQLOutputType, depth: number): string {
  const named = getNamedType(type);
  if (!(isObjectType(named) || isInterfaceType(named))) return '';
  if (depth >= MAX_DEPTH) return '{ __typename }';
  const fields = Object.values((named as GraphQLObjectType).getFields()).map(
    (field: GraphQLField<unknown, unknown>) => {
      const inner = getNamedType(field.type);
      const nested = isObjectType(inner) || isInterfaceType(inner) ? selection(field.type, depth + 1) : '';
      return `${field.name}${argumentsOf(field.args, false)} ${nested}`;
    },
  );
  return `{ __typename ${fields.join(' ')} }`;
}

const ROOT_FIELDS = Object.values(schema.getQueryType()!.getFields()).filter((f) => f.name !== 'node');

/** One document per root field, each field under its own name. */
function walkDocuments(): { field: string; document: string }[] {
  return ROOT_FIELDS.map((field) => ({
    field: field.name,
    document: `{ ${field.name}${argumentsOf(field.args, true)} ${selection(field.type, 1)} }`,
  }));
}

async function walk(g: TestGateway, token: string) {
  const results: Record<string, unknown> = {};
  for (const { field, document } of walkDocuments()) {
    const response = await g.graphql(document, {}, token);
    expect(response.errors, `${field}: ${JSON.stringify(response.errors)}`).toBeUndefined();
    results[field] = response.data?.[field];
  }
  return results;
}

/** Every string anywhere in a value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

const nodeInterface = schema.getType('Node');
const NODE_TYPES = new Set(
  nodeInterface && isInterfaceType(nodeInterface)
    ? schema.getPossibleTypes(nodeInterface).map((t) => t.name)
    : [],
);

/** Global ids of every Node anywhere in a value. */
function nodeIds(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(nodeIds);
  if (value && typeof value === 'object') {
    const node = value as { __typename?: unknown; id?: unknown };
    const own = typeof node.id === 'string' && NODE_TYPES.has(String(node.__typename)) ? [node.id] : [];
    return [...own, ...Object.values(value).flatMap(nodeIds)];
  }
  return [];
}

/**
 * The same office, exposure and run ids in both tenants; the marker shows up in host names, payloads
 * and scanner types.
 */
function tenantEvents(marker: string, office: string) {
  const events = [
    eventInput({
      eventId: `${marker}-1`,
      officeId: office,
      exposureId: 'exp-1',
      timestamp: '2026-01-05T08:00:00Z',
      assetHostname: `${marker}-host`,
      assetId: `${marker}-asset`,
      severity: 'CRITICAL',
      riskScore: 91,
      rawPayload: { marker },
    }),
    eventInput({
      eventId: `${marker}-2`,
      officeId: office,
      exposureId: 'exp-1',
      timestamp: '2026-01-06T08:00:00Z',
      assetHostname: `${marker}-host`,
      status: 'CLOSED',
      severity: 'LOW',
    }),
    eventInput({
      eventId: `${marker}-3`,
      officeId: office,
      exposureId: 'exp-2',
      timestamp: '2026-01-07T08:00:00Z',
      assetHostname: `${marker}-host`,
      dstIp: '2001:db8::7',
      dstPort: 443,
      exposureClass: 'weak_tls',
      eventAction: `${marker}-action`,
      scanRunId: RUN,
    }),
  ];
  return events.map((event) => ({ ...event, scannerType: `${marker}-scanner` }));
}

/** Completes the run of an office as the scope's tenant, closing nothing it observed. */
function completeRun(g: TestGateway, scope: Scope, marker: string, office: string) {
  return completeScanRun({ store: g.store, config: g.config.ingest }, scope, {
    officeId: office,
    scanRunId: RUN,
    scannerType: `${marker}-scanner`,
    completedAt: '2026-01-08T00:00:00Z',
  });
}

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompleteScanRunInput!) { completeScanRun(input: $input) { scanRunId exposuresClosed } }
`;

for (const engine of ENGINES) {
  describe(`isolation on ${engine}`, () => {
    let g: TestGateway;
    const acme: Scope = { tenantId: 'acme', officeIds: 'all' };
    const globex: Scope = { tenantId: 'globex', officeIds: 'all' };
    let acmeToken: string;
    let acmeBerlinToken: string;
    let globexToken: string;
    let acmeAlone: Record<string, unknown>;
    let acmeBerlinAlone: Record<string, unknown>;

    beforeAll(async () => {
      g = await openTestGateway(engine);
      const deps = { store: g.store, config: g.config.ingest };
      acmeToken = await g.token({ tenantId: 'acme' });
      acmeBerlinToken = await g.token({ tenantId: 'acme', officeIds: ['berlin'] });
      globexToken = await g.token({ tenantId: 'globex' });
      await ingest(deps, acme, { events: tenantEvents('acme', 'berlin') });
      await completeRun(g, acme, 'acme', 'berlin');
      // What acme sees before any other tenant or office has data.
      acmeAlone = await walk(g, acmeToken);
      acmeBerlinAlone = await walk(g, acmeBerlinToken);
      await ingest(deps, acme, { events: tenantEvents('acmeparis', 'paris') });
      await completeRun(g, acme, 'acmeparis', 'paris');
      await ingest(deps, globex, {
        events: [...tenantEvents('globex', 'berlin'), ...tenantEvents('globexparis', 'paris')],
      });
      await completeRun(g, globex, 'globex', 'berlin');
    });
    afterAll(async () => g.close());

    it('walks every root field of the schema', () => {
      expect(walkDocuments().length).toBeGreaterThan(0);
      expect(Object.keys(acmeAlone).sort()).toEqual(ROOT_FIELDS.map((f) => f.name).sort());
      // The runs and their diff are walked with rows in them, not empty.
      expect(strings(acmeAlone.scanRuns)).toContain('acme-scanner');
      expect(strings(acmeAlone.scanRunDiff)).toContain('acme-scanner');
      expect(acmeAlone.scanRunDiff).toMatchObject({ new: { totalCount: 1 } });
    });

    it("never shows one tenant another tenant's rows, counts, buckets or nodes", async () => {
      const acmeSees = await walk(g, acmeToken);
      const globexSees = await walk(g, globexToken);
      expect(strings(acmeSees).filter((s) => s.includes('globex'))).toEqual([]);
      expect(strings(globexSees).filter((s) => s.includes('acme'))).toEqual([]);
      // Globex's data changed nothing acme sees except what acme's own paris office added.
      const acmeBerlinNow = await walk(g, acmeBerlinToken);
      expect(acmeBerlinNow).toEqual(acmeBerlinAlone);
      expect(strings(acmeSees).some((s) => s.includes('acmeparis'))).toBe(true);
      expect(acmeAlone).not.toEqual(acmeSees);
    });

    it("resolves another tenant's node ids to null", async () => {
      const globexIds = nodeIds(await walk(g, globexToken));
      const acmeIds = new Set(nodeIds(await walk(g, acmeToken)));
      const foreign = globexIds.filter((id) => !acmeIds.has(id));
      for (const id of new Set(globexIds)) {
        const response = await g.graphql(
          'query ($id: ID!) { node(id: $id) { __typename id } }',
          { id },
          acmeToken,
        );
        expect(response.errors).toBeUndefined();
        // The same office and exposure ids exist in both tenants: acme may resolve its own row, never globex's.
        if (foreign.includes(id)) expect(response.data?.node).toBeNull();
        else expect(strings(response.data)).not.toContain('globex');
      }
    });

    it('answers a malformed global id with a client error', async () => {
      for (const id of ['not-an-id', Buffer.from('no colon').toString('base64')]) {
        const response = await g.graphql('query ($id: ID!) { node(id: $id) { id } }', { id }, acmeToken);
        expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      }
    });

    it('refuses triage and SLA changes across tenants and offices; slaPolicy is per tenant', async () => {
      const TRIAGE = `mutation ($input: TriageExposureInput!) { triageExposure(input: $input) { id } }`;
      const triage = (officeId: string, exposureId: string) => ({
        input: { officeId, exposureId, dispositionStatus: 'accepted_risk', dispositionReason: 'x' },
      });
      const acmeBerlinAdmin = await g.token({ tenantId: 'acme', officeIds: ['berlin'], roles: ['admin'] });
      const globexAnalyst = await g.token({ tenantId: 'globex', roles: ['analyst'] });
      // acme's paris office is outside the token; an exposure only globex has does not exist for acme.
      const outsideOffice = await g.graphql(TRIAGE, triage('paris', 'exp-1'), acmeBerlinAdmin);
      expect(outsideOffice.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const globexOnly = await ingest(
        { store: g.store, config: g.config.ingest },
        { tenantId: 'globex', officeIds: 'all' },
        { events: [eventInput({ officeId: 'berlin', exposureId: 'globex-only', timestamp: RANGE.from })] },
      );
      expect(globexOnly.eventsInserted).toBe(1);
      const otherTenant = await g.graphql(TRIAGE, triage('berlin', 'globex-only'), acmeBerlinAdmin);
      expect(otherTenant.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const own = await g.graphql(TRIAGE, triage('berlin', 'globex-only'), globexAnalyst);
      expect(own.errors).toBeUndefined();
      // globex's decision changed nothing acme's berlin office sees.
      expect(await walk(g, acmeBerlinToken)).toEqual(acmeBerlinAlone);

      const SET = 'mutation { setSlaPolicy(input: { critical: 1 }) { critical } }';
      expect((await g.graphql(SET, {}, globexAnalyst)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const globexAdmin = await g.token({ tenantId: 'globex', roles: ['admin'] });
      expect((await g.graphql(SET, {}, globexAdmin)).data).toEqual({ setSlaPolicy: { critical: 1 } });
      const policy = '{ slaPolicy { critical } }';
      expect((await g.graphql(policy, {}, globexToken)).data).toEqual({ slaPolicy: { critical: 1 } });
      expect((await g.graphql(policy, {}, acmeToken)).data).toEqual({ slaPolicy: { critical: 7 } });
    });

    it('hides offices outside the token', async () => {
      const berlinOnly = await walk(g, acmeBerlinToken);
      expect(strings(berlinOnly).filter((s) => s.includes('paris'))).toEqual([]);
      const response = await g.graphql(
        '{ exposure(officeId: "paris", exposureId: "exp-1") { id } }',
        {},
        acmeBerlinToken,
      );
      expect(response.data?.exposure ?? null).toBeNull();
    });

    it('refuses completeScanRun outside the token, and another tenant’s completion changes nothing here', async () => {
      const berlinIngestor = await g.token({ tenantId: 'acme', officeIds: ['berlin'], roles: ['ingestor'] });
      const input = {
        officeId: 'paris',
        scanRunId: 'run-2',
        scannerType: 'acmeparis-scanner',
        completedAt: '2026-01-09T00:00:00Z',
      };
      const refused = await g.graphql(COMPLETE, { input }, berlinIngestor);
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'input.officeId' });
      // Globex names acme's office, run and scanner: the tenant comes from its token, so only globex's
      // rows are looked at, and none of them is acme's scanner's.
      const globexIngestor = await g.token({ tenantId: 'globex', roles: ['ingestor'] });
      const foreign = await g.graphql<{ completeScanRun: { exposuresClosed: number } }>(
        COMPLETE,
        { input: { ...input, officeId: 'berlin', scanRunId: 'run-3', scannerType: 'acme-scanner' } },
        globexIngestor,
      );
      expect(foreign.errors).toBeUndefined();
      expect(foreign.data?.completeScanRun.exposuresClosed).toBe(0);
      expect(await walk(g, acmeBerlinToken)).toEqual(acmeBerlinAlone);
      const diff = await g.graphql(
        `{ scanRunDiff(officeId: "paris", scanRunId: "${RUN}") { run { scanRunId } } }`,
        {},
        acmeBerlinToken,
      );
      expect(diff.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });
  });
}
