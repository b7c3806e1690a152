// Plain JavaScript that every Node.js parses, so that an older one gets a message rather than a crash
// somewhere in the dependencies (graphql-yoga's @whatwg-node packages need 22.15 or later).
export const SUPPORTED = { major: 22, minor: 15 };

/** Why `version` (such as process.versions.node) cannot run the gateway, or null when it can. */
export function unsupportedNode(version) {
  const [major, minor] = version.split('.').map(Number);
  if (major > SUPPORTED.major || (major === SUPPORTED.major && minor >= SUPPORTED.minor)) return null;
  return `exposure-gateway needs Node.js ${SUPPORTED.major}.${SUPPORTED.minor} or later (the LTS lines 22 and 24); this is Node.js ${version}`;
}
