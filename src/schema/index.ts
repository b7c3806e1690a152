/** Imports every type file and builds the schema. */
import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './enums.ts';
import './office.ts';
import './timeline.ts';
import './summary.ts';
import './exposure.ts';
import './sla-policy.ts';
import './triage.ts';
import './event.ts';
import './quarantine.ts';
import './ingest.ts';
import './scan-run.ts';
import './subscription.ts';

builder.queryType({
  description: "Reads: every field is confined to the caller's tenant and offices.",
  authScopes: { viewer: true },
});

builder.mutationType({
  description: 'Writes: ingestion and the quarantine, each field open to the roles it names.',
});

export const schema = lexicographicSortSchema(builder.toSchema());
