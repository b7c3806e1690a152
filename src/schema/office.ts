/** Office: a site whose scanners report exposures. */
import { findOffices, type OfficeSummary } from '../db/repositories/offices.ts';
import { builder } from './builder.ts';

export const Office = builder.objectRef<OfficeSummary>('Office').implement({
  description: 'A site whose scanners report exposures.',
  fields: (t) => ({
    id: t.exposeID('officeId', { description: 'The office id, unique inside the tenant.' }),
    name: t.exposeString('name', { nullable: true }),
    lastIngestAt: t.expose('lastIngestAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When events for this office were last ingested.',
    }),
    openExposures: t.exposeInt('openExposures', {
      description: 'Exposures of this office whose status is OPEN.',
    }),
  }),
});

builder.queryField('offices', (t) =>
  t.field({
    type: [Office],
    description: 'The offices the caller may see.',
    resolve: (_root, _args, context) => findOffices(context.store.db, context.scope),
  }),
);
