/**
 * Hostile input over the whole schema, on both engines: every root field of Query and Mutation is called
 * with arguments drawn from its input types (any UTF-16 text, NUL and lone surrogates included, extreme
 * numbers, deep JSON, huge lists), and arbitrary bodies are posted. No answer may be a 5xx or an
 * unexpected (masked) error, and a refused call writes nothing.
 */
import fc from 'fast-check';
import {
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.ts';
import { ENGINES } from '../helpers/engines.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

// FUZZ_RUNS=2000 for a deeper search.
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);

/** Any UTF-16 code unit: lone surrogates and NUL included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const hostileText = fc.oneof(
  { weight: 12, arbitrary: fc.string({ unit: codeUnit, maxLength: 24 }) },
  { weight: 6, arbitrary: fc.string({ maxLength: 12 }) },
  {
    weight: 9,
    arbitrary: fc.constantFrom(
      '',
      '\u0000',
      'berlin\u0000',
      '\uD800',
      'x\uDFFF',
      '\uD83D',
      '😀',
      "'; drop table exposure_events; --",
      '%_\\*',
      'berlin',
      'acme',
      'open_port',
      'CRITICAL',
      '2026-02-30T25:61:00Z',
      '+275760-09-13T00:00:00.000Z',
      '2026-01-01T00:00:00+14:00',
      '::ffff:10.0.0.1',
      '10.0.0.0/33',
      'fe80::1%eth0',
      'RXhwb3N1cmU6YWNtZQ==',
      'NaN',
    ),
  },
  { weight: 1, arbitrary: fc.constant('é'.repeat(70_000)) },
);

const extremeInt = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, -(2 ** 53), 1e21, 65_536, 70_000),
);
const extremeFloat = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e308, -1e308, 5e-324, -0, 0.1, 1.0000000000000002),
);

/** JSON nested `depth` levels, as objects and arrays in turn. */
const nested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = level % 2 ? [value] : { [`k${level}`]: value };
  return value;
};
const hostileJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(nested(33), nested(1_000), { '\u0000': '\uD800' }, { a: '\u0000' }, [1e308, -0]),
);

/** Values a field of this input type could be sent, valid or not; null where the type allows it. */
function inputValue(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return inputValue(type.ofType, depth);
  const value = nonNullValueOf(type, depth);
  return fc.oneof({ weight: 6, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) });
}

/** A short value of the type (or one a client could mistake for it), to repeat in huge lists. */
function smallValue(type: GraphQLInputType): fc.Arbitrary<unknown> {
  const named = getNamedType(type);
  if (isEnumType(named)) return fc.constantFrom(...named.getValues().map((value) => value.name), 'x');
  if (isInputObjectType(named)) return fc.constant({});
  return fc.constantFrom('berlin', '10.0.0.1', '\u0000', 1, 'x');
}

function nonNullValueOf(type: GraphQLInputType, depth: number): fc.Arbitrary<unknown> {
  if (isListType(type)) {
    const item = inputValue(type.ofType, depth + 1);
    return fc.oneof(
      { weight: 30, arbitrary: fc.array(item, { maxLength: 4 }) },
      // Past PostgreSQL's 65,535 bind parameters, if a list ever reached it as one parameter each; of
      // small items, so the body stays within REQUEST_MAX_BYTES and reaches the resolvers.
      {
        weight: 1,
        arbitrary: smallValue(type.ofType).map((one) => Array.from({ length: 70_000 }, () => one)),
      },
    );
  }
  if (isEnumType(type)) {
    return fc.oneof(fc.constantFrom(...type.getValues().map((value) => value.name)), hostileText);
  }
  if (isInputObjectType(type)) {
    // Deeper than this, nested filters stay empty: the search is wide, not deep.
    if (depth > 3) return fc.constant({});
    const fields = Object.values(type.getFields());
    return fc.record(
      Object.fromEntries(fields.map((field) => [field.name, inputValue(field.type, depth + 1)])),
      {
        requiredKeys: fields.filter((field) => isNonNullType(field.type)).map((field) => field.name),
      },
    );
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int':
        return extremeInt;
      case 'Float':
        return extremeFloat;
      case 'Boolean':
        return fc.oneof(fc.boolean(), hostileText);
      case 'JSON':
        return hostileJson;
      case 'DateTime':
        return fc.oneof(
          fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
          hostileText,
        );
      case 'IPAddress':
        return fc.oneof(fc.ipV4(), fc.ipV6(), hostileText);
      default:
        return fc.oneof(hostileText, extremeInt);
    }
  }
  throw new Error(`no values for input type ${String(type)}`);
}

interface Call {
  document: string;
  variables: Record<string, unknown>;
}

/** One root field as a document with every argument a variable, selecting as little as it can. */
function callsOf(operation: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): fc.Arbitrary<Call> {
  const declared = field.args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
  const passed = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  const document = `${operation}${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''}${selection} }`;
  const variables = fc.record(Object.fromEntries(field.args.map((arg) => [arg.name, inputValue(arg.type)])), {
    requiredKeys: field.args.filter((arg) => isNonNullType(arg.type)).map((arg) => arg.name),
  });
  return variables.map((values) => ({ document, variables: values }));
}

const ROOT_CALLS = [
  ...Object.values(schema.getQueryType()?.getFields() ?? {}).map((field) => callsOf('query', field)),
  ...Object.values(schema.getMutationType()?.getFields() ?? {}).map((field) => callsOf('mutation', field)),
];

/** Bodies no client library would send. */
const malformedBody = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 64 }),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  hostileText.map((query) => JSON.stringify({ query })),
  hostileJson.map((variables) => JSON.stringify({ query: '{ offices { id } }', variables })),
  fc.constantFrom(
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `{"query": "{ offices { id } }", "variables": ${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
    '{"query": "{ offices { id } }", "variables": {"x": "\\ud800"}}',
    '{"query": "\\u0000"}',
    '{"query": null}',
    '{"query": 1}',
    '{"query": "{ offices { id } }", "operationName": {}}',
    '{"query": "{ offices { id } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": 7}}}',
  ),
);

interface Answer {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
}

const unexpected = (answer: Answer) =>
  answer.status >= 500 ||
  (answer.body.errors ?? []).some(
    (error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR' || error.message === 'Unexpected error.',
  );

for (const engine of ENGINES) {
  describe(`hostile input on ${engine}`, () => {
    let g: TestGateway;
    let token: string;
    let tables: string[];

    /** Rows in every table of the store: a refused call must leave each count as it was. */
    const rowCounts = async () => {
      const counts: Record<string, number> = {};
      for (const table of tables) {
        const { rows } = await sql<{
          n: number;
        }>`select cast(count(*) as integer) as n from ${sql.table(table)}`.execute(g.store.db);
        counts[table] = rows[0]?.n ?? 0;
      }
      return counts;
    };

    const post = async (body: string): Promise<Answer> => {
      const response = await g.yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      const text = await response.text();
      let parsed: Answer['body'] = {};
      try {
        parsed = JSON.parse(text) as Answer['body'];
      } catch {
        // A refusal in plain text is an answer too; its status is what counts.
      }
      return { status: response.status, body: parsed };
    };

    beforeAll(async () => {
      // Every call of the search comes from one caller: no rate limit stands between it and the engines.
      g = await openTestGateway(engine, { RATE_LIMIT_REQUESTS: '0' });
      token = await g.token({ roles: ['admin', 'ingestor', 'analyst', 'viewer'] });
      const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables
        where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1`.execute(g.store.db);
      tables = rows.map((row) => row.name);
      expect(tables).toContain('exposure_events');
    });
    afterAll(async () => g.close());

    it('answers every root field with hostile arguments without a 5xx, and a refusal writes nothing', async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(...ROOT_CALLS), async (call) => {
          const before = await rowCounts();
          const answer = await post(JSON.stringify({ query: call.document, variables: call.variables }));
          if (unexpected(answer)) {
            throw new Error(`${answer.status} ${JSON.stringify(answer.body.errors)} for ${call.document}`);
          }
          if (answer.body.errors?.length) expect(await rowCounts()).toEqual(before);
        }),
        { numRuns: RUNS },
      );
    });

    it('refuses NUL and lone surrogates in any argument with INVALID_CHARACTERS naming where', async () => {
      const refusal = async (query: string, variables: Record<string, unknown> = {}) => {
        const answer = await post(JSON.stringify({ query, variables }));
        return answer.body.errors?.[0]?.extensions;
      };
      expect(
        await refusal('query($o: ID!) { exposure(officeId: $o, exposureId: "e") { __typename } }', {
          o: 'a\u0000',
        }),
      ).toEqual({ code: 'INVALID_CHARACTERS', field: 'officeId' });
      expect(
        await refusal('mutation($i: TriageExposureInput!) { triageExposure(input: $i) { __typename } }', {
          i: {
            officeId: 'berlin',
            exposureId: 'e',
            dispositionStatus: 'accepted_risk',
            dispositionReason: 'x\uD800',
          },
        }),
      ).toEqual({ code: 'INVALID_CHARACTERS', field: 'input.dispositionReason' });
      expect(
        await refusal('{ exposure(officeId: "berlin\\u0000", exposureId: "e") { __typename } }'),
      ).toEqual({
        code: 'INVALID_CHARACTERS',
        field: 'officeId',
      });
      // Events are judged one by one: skipInvalid keeps the good one.
      const ingested = await post(
        JSON.stringify({
          query: `mutation($input: IngestExposureEventsInput!) {
            ingestExposureEvents(input: $input) { eventsInserted rejected { index field code } } }`,
          variables: {
            input: {
              skipInvalid: true,
              events: [
                {
                  timestamp: '2026-01-10T10:00:00Z',
                  officeId: 'berlin',
                  exposureId: 'nul\u0000',
                  exposureClass: 'open_port',
                  status: 'OPEN',
                  severity: 'LOW',
                },
                {
                  timestamp: '2026-01-10T10:00:00Z',
                  officeId: 'berlin',
                  exposureId: 'fine',
                  exposureClass: 'open_port',
                  status: 'OPEN',
                  severity: 'LOW',
                },
              ],
            },
          },
        }),
      );
      expect(ingested.body.data).toEqual({
        ingestExposureEvents: {
          eventsInserted: 1,
          rejected: [{ index: 0, field: 'exposureId', code: 'INVALID_CHARACTERS' }],
        },
      });
    });

    it('answers malformed bodies with a client error, never a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(malformedBody, async (body) => {
          const answer = await post(body);
          if (unexpected(answer))
            throw new Error(`${answer.status} ${JSON.stringify(answer.body)} for ${body.slice(0, 200)}`);
        }),
        { numRuns: RUNS },
      );
    });
  });
}
