/** REQUESTS_MAX_*: a bounded queue, then 503 OVERLOADED, on a real port, on both engines. */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { listen, type RunningServer } from '../../src/server.ts';
import { databaseEnv } from '../helpers/cli.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { TEST_SECRET } from '../helpers/gateway.ts';
import { heldRequest } from '../helpers/http.ts';
import { Scrape } from '../helpers/metrics.ts';
import { openSubscription } from '../helpers/sse.ts';

const QUERY = JSON.stringify({ query: '{ offices { id } }' });

for (const engine of ENGINES) {
  describe(`overload on ${engine}`, () => {
    let t: TestStore;
    let server: RunningServer;
    let token: string;
    /** A server on a new database; afterEach stops it, which closes its store. */
    const start = async (env: Record<string, string>) => {
      t = await openTestStore(engine);
      const config = loadConfig({
        ...databaseEnv(t.database.config),
        AUTH_JWT_SECRET: TEST_SECRET,
        PORT: '0',
        RATE_LIMIT_REQUESTS: '0',
        ...env,
      });
      server = await listen(config, t.store, createLogger('silent'));
      return server.url;
    };
    const ask = (url: string) =>
      fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: QUERY,
      });

    beforeAll(async () => {
      token = await signToken(TEST_SECRET, { tenantId: 'acme', officeIds: ['*'], roles: ['viewer'] });
    });
    afterEach(async () => {
      await server.shutdown();
      await t.database.drop();
    });

    it('queues up to its bound, answers 503 OVERLOADED beyond it, and keeps /health fast', async () => {
      const url = await start({ REQUESTS_MAX_IN_FLIGHT: '2', REQUESTS_MAX_QUEUED: '2' });
      // Two requests in flight (their bodies are awaited), two in the queue.
      const held = Array.from({ length: 4 }, () => heldRequest(url, token, QUERY));
      await expect.poll(() => admission(url)).toMatchObject({ inFlight: 2, queued: 2, overloaded: 0 });

      const refused = await ask(url);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.json()).toEqual({
        errors: [
          {
            message: expect.stringContaining('retry later'),
            extensions: { code: 'OVERLOADED', retryAfterSeconds: 1 },
          },
        ],
      });
      expect(await admission(url)).toMatchObject({ overloaded: 1 });
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      expect((await fetch(`${url}/ready`)).status).toBe(200);

      for (const request of held) request.finish();
      for (const answer of await Promise.all(held.map((request) => request.response))) {
        expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
        expect(answer).toContain('{"data":{"offices":[]}}');
      }
      expect((await ask(url)).status).toBe(200);
    });

    it('lets a subscription hold its turn only until its stream starts, whatever its headers', async () => {
      const url = await start({ REQUESTS_MAX_IN_FLIGHT: '1', REQUESTS_MAX_QUEUED: '0' });
      const listening = await openSubscription(
        fetch,
        `${url}/graphql`,
        token,
        'subscription { exposureChanged { exposureId } }',
      );
      try {
        await expect.poll(() => admission(url)).toMatchObject({ inFlight: 0, queued: 0 });
        expect((await ask(url)).status).toBe(200);
        // Asking for an event stream does not skip the queue: with the one turn taken, it is refused.
        const held = heldRequest(url, token, QUERY);
        await expect.poll(() => admission(url)).toMatchObject({ inFlight: 1 });
        const streamed = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'text/event-stream',
            authorization: `Bearer ${token}`,
          },
          body: QUERY,
        });
        expect(streamed.status).toBe(503);
        held.finish();
        expect(await held.response).toMatch(/^HTTP\/1\.1 200 OK/);
      } finally {
        listening.close();
      }
    });

    it('answers a request that waited longer than REQUESTS_QUEUE_TIMEOUT_MS with OVERLOADED', async () => {
      const url = await start({
        REQUESTS_MAX_IN_FLIGHT: '1',
        REQUESTS_MAX_QUEUED: '10',
        REQUESTS_QUEUE_TIMEOUT_MS: '200',
      });
      const held = heldRequest(url, token, QUERY);
      await expect.poll(() => admission(url)).toMatchObject({ inFlight: 1 });
      const waited = await ask(url);
      expect(waited.status).toBe(503);
      expect(
        ((await waited.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
      ).toBe('OVERLOADED');
      held.finish();
      expect(await held.response).toMatch(/^HTTP\/1\.1 200 OK/);
    });

    it('gives up the place of a client that goes away, in the queue or in flight', async () => {
      const url = await start({ REQUESTS_MAX_IN_FLIGHT: '1', REQUESTS_MAX_QUEUED: '1' });
      const first = heldRequest(url, token, QUERY);
      await expect.poll(() => admission(url)).toMatchObject({ inFlight: 1, queued: 0 });
      const second = heldRequest(url, token, QUERY);
      await expect.poll(() => admission(url)).toMatchObject({ inFlight: 1, queued: 1 });
      second.abandon();
      // Not counted as refused: nobody is left to answer.
      await expect.poll(() => admission(url)).toMatchObject({ inFlight: 1, queued: 0, overloaded: 0 });
      first.abandon();
      await expect.poll(() => admission(url)).toMatchObject({ inFlight: 0, queued: 0, overloaded: 0 });
      expect((await ask(url)).status).toBe(200);
    });

    it('answers a burst far over its bounds at once, queues only its bound, then serves again', async () => {
      const url = await start({ REQUESTS_MAX_IN_FLIGHT: '4', REQUESTS_MAX_QUEUED: '16' });
      const held = Array.from({ length: 4 }, () => heldRequest(url, token, QUERY));
      await expect.poll(() => admission(url)).toMatchObject({ inFlight: 4 });
      const burst = Array.from({ length: 400 }, () => ask(url).then((response) => response.status));
      // The refused ones are answered while the held requests still have every turn.
      await expect
        .poll(() => admission(url), { timeout: 30_000 })
        .toMatchObject({ inFlight: 4, queued: 16, overloaded: 384 });
      for (const request of held) request.finish();
      const statuses = await Promise.all(burst);
      expect(statuses.filter((status) => status === 200)).toHaveLength(16);
      expect(statuses.filter((status) => status === 503)).toHaveLength(384);
      expect((await ask(url)).status).toBe(200);
    });
  });
}

/** The admission gauges and counter, as the server's /metrics says them. */
async function admission(url: string) {
  const metrics = new Scrape(await (await fetch(`${url}/metrics`)).text());
  return {
    inFlight: metrics.value('exposure_gateway_http_requests_in_flight'),
    queued: metrics.value('exposure_gateway_http_requests_queued'),
    overloaded: metrics.value('exposure_gateway_http_overloaded_total'),
  };
}
