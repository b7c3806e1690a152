/** Messages a PostgreSQL server sends besides results reach the store's owner. */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type ServerNotice, type Store } from '../../src/db/database.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/engines.ts';

describe('server notices on PostgreSQL', () => {
  let database: TestDatabase;
  let store: Store;
  const notices: ServerNotice[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    store = await openStore(database.config, { onNotice: (notice) => notices.push(notice) });
  });
  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  it('passes on each notice and warning with its severity, from reads and from writes', async () => {
    await sql`do $$ begin raise notice 'probe %', 1; raise warning 'careful'; end $$`.execute(store.db);
    await store.write((trx) => sql`do $$ begin raise notice 'in a write'; end $$`.execute(trx.db));
    expect(notices).toEqual([
      { severity: 'NOTICE', message: 'probe 1' },
      { severity: 'WARNING', message: 'careful' },
      { severity: 'NOTICE', message: 'in a write' },
    ]);
  });
});
