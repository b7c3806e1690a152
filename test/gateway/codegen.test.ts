/** src/gql is checked in: it must be what `npm run codegen` makes of the schema and src/client's documents. */
import fs from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.ts';

describe('generated documents', () => {
  it('are up to date (npm run codegen)', async () => {
    const outputs: { filename: string; content: string }[] = await generate(
      { ...config, silent: true },
      false,
    );
    const generated = new Map(outputs.map((output) => [path.resolve(output.filename), output.content]));
    const checkedIn = fs.readdirSync('src/gql').map((name) => path.resolve('src/gql', name));
    expect(checkedIn.sort(), 'files in src/gql').toEqual([...generated.keys()].sort());
    for (const [file, content] of generated) {
      expect(fs.readFileSync(file, 'utf8'), `${file} is stale: run npm run codegen`).toBe(content);
    }
  });
});
