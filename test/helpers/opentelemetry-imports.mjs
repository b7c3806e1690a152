// Preloaded into a child process (--import): on exit, writes the @opentelemetry packages the process
// loaded to the file named by OPENTELEMETRY_IMPORTS_FILE.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const loaded = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    const match = /\/node_modules\/(@opentelemetry\/[^/]+)\//.exec(resolved.url);
    if (match) loaded.add(match[1]);
    return resolved;
  },
});
process.on('exit', () => {
  writeFileSync(process.env.OPENTELEMETRY_IMPORTS_FILE, JSON.stringify([...loaded].sort()));
});
