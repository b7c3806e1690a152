/** Validation errors suggest fields only in development: elsewhere they would map the schema for anyone. */
import { afterEach, describe, expect, it } from 'vitest';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

describe('field suggestions', () => {
  let g: TestGateway | undefined;
  afterEach(async () => g?.close());

  const misspelled = async (env: Record<string, string>) => {
    g = await openTestGateway('duckdb', env);
    const response = await g.graphql('{ exposures(first: 1) { edges { node { severty } } } }');
    expect(response.data).toBeUndefined();
    return response.errors?.map((e) => e.message) ?? [];
  };

  it('are left out by default, and the error still names the field that was asked for', async () => {
    const messages = await misspelled({});
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('"severty"');
    expect(messages.join()).not.toMatch(/Did you mean|severity/);
  });

  it('are given with NODE_ENV=development', async () => {
    expect((await misspelled({ NODE_ENV: 'development' })).join()).toMatch(/Did you mean "severity"/);
  });
});
