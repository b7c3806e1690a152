/** Every event records who wrote it: a token's subject, an API key's name, or the local user. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { signToken } from '../../src/auth/tokens.ts';
import { ingestFilesLocally } from '../../src/client/ingest-command.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, TEST_SECRET, type TestGateway } from '../helpers/gateway.ts';

const INGEST = `mutation ($input: IngestExposureEventsInput!) {
  ingestExposureEvents(input: $input) { eventsInserted }
}`;
const ACTORS = `{ events(first: 10) { edges { node { eventId actor } } } }`;

for (const engine of ENGINES) {
  describe(`event actors on ${engine}`, () => {
    let g: TestGateway;
    beforeAll(async () => {
      g = await openTestGateway(engine);
    });
    afterAll(async () => g.close());

    const actors = async () => {
      const { data } = await g.graphql<{
        events: { edges: { node: { eventId: string; actor: string | null } }[] };
      }>(ACTORS);
      return Object.fromEntries(data!.events.edges.map(({ node }) => [node.eventId, node.actor]));
    };

    it('records the token subject, the API key name and the local user; older events read null', async () => {
      const alice = await signToken(TEST_SECRET, {
        tenantId: 'acme',
        officeIds: ['*'],
        roles: ['ingestor'],
        subject: 'alice@example.com',
      });
      const byToken = await g.graphql(
        INGEST,
        { input: { events: [eventInput({ eventId: 'by-token', timestamp: '2026-03-02T10:00:00Z' })] } },
        alice,
      );
      expect(byToken.errors).toBeUndefined();

      const scanner = await createApiKey(g.store, {
        tenantId: 'acme',
        name: 'berlin scanner',
        roles: ['ingestor'],
        officeIds: ['berlin'],
      });
      await g.graphql(
        INGEST,
        { input: { events: [eventInput({ eventId: 'by-key', timestamp: '2026-03-02T10:01:00Z' })] } },
        scanner.key,
      );

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'actor-'));
      const file = path.join(dir, 'scan.json');
      fs.writeFileSync(
        file,
        JSON.stringify([eventInput({ eventId: 'by-cli', timestamp: '2026-03-02T10:02:00Z' })]),
      );
      const silent = { out: () => {}, err: () => {}, interactive: false };
      await ingestFilesLocally(g.config, g.store, 'acme', { files: [file] }, silent);

      // A row of before the column: its actor is null.
      await g.graphql(
        INGEST,
        { input: { events: [eventInput({ eventId: 'older', timestamp: '2026-03-02T10:03:00Z' })] } },
        alice,
      );
      await g.store.write((trx) =>
        trx.db.updateTable('exposure_events').set({ actor: null }).where('event_id', '=', 'older').execute(),
      );

      expect(await actors()).toEqual({
        'by-token': 'alice@example.com',
        'by-key': 'berlin scanner',
        'by-cli': `local:${os.userInfo().username}`,
        older: null,
      });
    });

    it('refuses an actor sent as part of an event', async () => {
      const response = await g.graphql(
        `mutation ($input: IngestExposureEventsInput!) { ingestExposureEvents(input: $input) { eventsInserted } }`,
        { input: { events: [{ ...eventInput({ eventId: 'forged' }), actor: 'mallory' }] } },
        await g.token({ roles: ['ingestor'] }),
      );
      expect(response.errors?.[0]?.message).toMatch(/actor/);
      expect(await actors()).not.toHaveProperty('forged');
    });
  });
}
