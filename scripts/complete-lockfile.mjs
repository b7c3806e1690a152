// Records every optional platform build (other operating systems' biome, duckdb and rollup binaries) in
// package-lock.json. A registry that does not carry one of them makes `npm install` leave it out of the
// lock file, and `npm ci` then refuses the lock as out of sync. Listed as optional, npm ci skips builds
// for other platforms. Run after changing dependencies: `npm run lock:complete`.
import fs from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [path, meta] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${name}`;
    if (packages[nested] || packages[`node_modules/${name}`]) continue;
    packages[`node_modules/${name}`] = { version: spec.replace(/^[\^~=]/, ''), optional: true };
    added += 1;
  }
}
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: recorded ${added} optional platform builds`);
