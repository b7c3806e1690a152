/** The HTTP surface of the gateway: GraphiQL, readiness, CSRF prevention, request limits, persisted operations. */
import { renderGraphiQL as renderCdnGraphiQL } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { DashboardOfficesDocument } from '../../src/gql/graphql.ts';
import { createGateway, type Gateway } from '../../src/yoga.ts';
import { ENGINES } from '../helpers/engines.ts';
import { openTestGateway, TEST_SECRET, type TestGateway } from '../helpers/gateway.ts';

interface Body {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** What in a page would make a browser load something from another host. */
function externalReferences(html: string): string[] {
  const patterns = [
    /<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?https?:[^\s"'>]*/gi,
    /url\(\s*["']?https?:[^)]*\)/gi,
    /@import\s+(?:url\()?\s*["']?https?:[^;]*/gi,
    /\b(?:import|importScripts|fetch)\(\s*["'`]https?:[^"'`]*/g,
    /new\s+(?:Shared)?Worker\(\s*["'`]https?:[^"'`]*/g,
    /["'`]https?:\/\/(?:unpkg\.com|cdn\.jsdelivr\.net|esm\.sh|cdnjs\.cloudflare\.com|fonts\.googleapis\.com)[^"'`]*/g,
  ];
  return patterns.flatMap((pattern) => html.match(pattern) ?? []);
}

for (const engine of ENGINES) {
  describe(`gateway over HTTP on ${engine}`, () => {
    let g: TestGateway;
    let token: string;
    beforeAll(async () => {
      g = await openTestGateway(engine);
      token = await g.token();
    });
    afterAll(async () => g.close());

    /** Another gateway on the same store, with other settings. */
    const gatewayWith = (env: Record<string, string>): Gateway =>
      createGateway({
        config: loadConfig({ AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', ...env }),
        store: g.store,
        changes: g.changes,
      });

    async function post(body: unknown, yoga: Gateway = g.yoga, headers: Record<string, string> = {}) {
      const response = await yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: response.status, ...((await response.json()) as Body) };
    }

    it('serves GraphiQL from installed packages, loading nothing from another host', async () => {
      const response = await g.yoga.fetch('http://gateway/graphql', { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/html');
      const html = await response.text();
      expect(html).toContain('renderYogaGraphiQL');
      expect(externalReferences(html)).toEqual([]);
      // The check does catch a page that loads from a CDN: yoga's built-in one does.
      expect(externalReferences(renderCdnGraphiQL({})).length).toBeGreaterThan(0);
    });

    it('answers /health, and /ready while the database answers', async () => {
      expect((await g.yoga.fetch('http://gateway/health')).status).toBe(200);
      const ready = await g.yoga.fetch('http://gateway/ready');
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        status: 'ready',
        database: engine,
        changeFeed: { transport: 'in-process', connected: true },
      });
    });

    it('refuses simple (non-preflighted) requests without the CSRF header', async () => {
      const get = (headers: Record<string, string>) =>
        g.yoga.fetch(`http://gateway/graphql?query=${encodeURIComponent('{ offices { id } }')}`, {
          headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers },
        });
      const refused = await get({});
      expect(refused.status).toBe(403);
      const refusal = (await refused.json()) as Body;
      expect(refusal.data).toBeUndefined();
      expect(refusal.errors?.[0]?.extensions?.code).toBe('CSRF_HEADER_REQUIRED');
      const allowed = await get({ 'x-graphql-yoga-csrf': '1' });
      expect(allowed.status).toBe(200);
      expect(await allowed.json()).toEqual({ data: { offices: [] } });

      const form = new FormData();
      form.set('operations', JSON.stringify({ query: '{ offices { id } }' }));
      form.set('map', '{}');
      const multipart = await g.yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: form,
      });
      expect(multipart.status).toBe(403);
    });

    it('runs no mutation over GET', async () => {
      const response = await g.yoga.fetch(
        `http://gateway/graphql?query=${encodeURIComponent('mutation { __typename }')}`,
        {
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            'x-graphql-yoga-csrf': '1',
          },
        },
      );
      expect(response.status).toBe(405);
      const body = (await response.json()) as Body;
      expect(body.data).toBeUndefined();
      expect(body.errors?.[0]?.message).toMatch(/mutation.*POST/i);
    });

    it('limits depth, aliases and tokens with coded errors and no data', async () => {
      const deep = await post({
        query:
          '{ exposures { edges { node { events { edges { node { exposure { events { edges { node { id } } } } } } } } } } }',
      });
      expect(deep.data).toBeUndefined();
      expect(deep.errors?.[0]).toMatchObject({
        message: 'Query depth limit of 10 exceeded, found 11.',
        extensions: { code: 'QUERY_TOO_DEEP' },
      });
      // Introspection (GraphiQL's schema query) is deeper, and allowed.
      const introspection = await post({
        query: '{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }',
      });
      expect(introspection.errors).toBeUndefined();

      const aliases = Array.from({ length: 21 }, (_, i) => `a${i}: offices { id }`).join(' ');
      const aliased = await post({ query: `{ ${aliases} }` });
      expect(aliased.errors?.[0]?.extensions?.code).toBe('TOO_MANY_ALIASES');
      expect(aliased.data).toBeUndefined();

      const large = await post({ query: `{ offices { ${'id '.repeat(2000)}} }` });
      expect(large.errors?.[0]).toMatchObject({
        message: 'Token limit of 2000 exceeded.',
        extensions: { code: 'QUERY_TOO_LARGE' },
      });
    });

    it('refuses a body over REQUEST_MAX_BYTES, with or without a Content-Length', async () => {
      const small = gatewayWith({ REQUEST_MAX_BYTES: '1000' });
      const body = JSON.stringify({ query: '{ offices { id } }', variables: { padding: 'x'.repeat(2000) } });
      const declared = await post(body, small);
      expect(declared.status).toBe(413);
      expect(declared.errors?.[0]?.extensions).toEqual({ code: 'REQUEST_TOO_LARGE', limit: 1000 });

      const streamed = await small.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: new Blob([body]).stream(),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
      expect(((await streamed.json()) as Body).errors?.[0]?.extensions?.code).toBe('REQUEST_TOO_LARGE');

      expect(await post({ query: '{ offices { id } }' }, small)).toEqual({
        status: 200,
        data: { offices: [] },
      });
    });

    it('runs only persisted operations when PERSISTED_OPERATIONS_ONLY=true', async () => {
      const persisted = gatewayWith({ PERSISTED_OPERATIONS_ONLY: 'true' });
      const hash = (DashboardOfficesDocument as unknown as { __meta__: { hash: string } }).__meta__.hash;
      const known = await post(
        { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } },
        persisted,
      );
      expect(known).toEqual({ status: 200, data: { offices: [] } });

      const arbitrary = await post({ query: '{ offices { id } }' }, persisted);
      expect(arbitrary.data).toBeUndefined();
      expect(arbitrary.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
      const unknown = await post(
        { extensions: { persistedQuery: { version: 1, sha256Hash: 'sha256:00' } } },
        persisted,
      );
      expect(unknown.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
      // An arbitrary query still runs where the option is off.
      expect((await post({ query: '{ offices { id } }' })).data).toEqual({ offices: [] });
    });
  });
}
