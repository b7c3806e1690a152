import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript, so that any Node.js can parse it.
import { unsupportedNode } from '../../bin/node-version.js';

describe('the Node.js version check of the CLI', () => {
  it.each(['22.15.0', '22.23.5', '24.0.0', '26.1.0'])('lets %s run the gateway', (version) => {
    expect(unsupportedNode(version)).toBeNull();
  });

  it.each(['20.20.2', '22.14.0', '18.0.0'])('tells %s which version it needs', (version) => {
    expect(unsupportedNode(version)).toBe(
      `exposure-gateway needs Node.js 22.15 or later (the LTS lines 22 and 24); this is Node.js ${version}`,
    );
  });
});
