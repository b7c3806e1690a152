#!/usr/bin/env node
// Runs the TypeScript sources directly, so the CLI works in a checkout right after `npm ci`.
import { unsupportedNode } from './node-version.js';

const unsupported = unsupportedNode(process.versions.node);
if (unsupported) {
  console.error(unsupported);
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register();
await import('../src/cli.ts');
