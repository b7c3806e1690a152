/** Live updates: exposures changed by committed ingests. */
import { Repeater } from '@repeaterjs/repeater';
import type { GatewayContext } from '../context.ts';
import { type ExposureState, findExposuresByKeys } from '../db/repositories/exposures.ts';
import type { ExposureFilter } from '../db/repositories/filters.ts';
import type { ExposureKey } from '../domain.ts';
import { ChangeFeedInterruptedError } from '../ingest/changes.ts';
import { builder } from './builder.ts';
import { Exposure } from './exposure.ts';
import { ExposureFilterInput, toExposureFilter } from './filters.ts';

/** Keys per lookup: a large ingest is read back in slices, not one statement with thousands of keys. */
const KEYS_PER_QUERY = 500;

/**
 * The caller's tenant's changes, read back through the scope and the filter after each commit. When the
 * feed may have missed changes, the stream ends with its interruption, which resolve turns into the
 * CHANGE_FEED_INTERRUPTED error.
 */
function changedExposures(
  context: GatewayContext,
  filter: ExposureFilter | null,
): AsyncIterable<ExposureState | ChangeFeedInterruptedError> {
  const changes = new Repeater<ExposureKey[] | ChangeFeedInterruptedError>(async (push, stop) => {
    const unsubscribe = context.changes.subscribe(
      (change) => {
        if (change.tenantId === context.scope.tenantId) void push(change.exposures);
      },
      (interruption) => {
        void push(interruption);
        stop();
      },
    );
    await stop;
    unsubscribe();
  });
  return (async function* () {
    for await (const keys of changes) {
      if (keys instanceof ChangeFeedInterruptedError) {
        yield keys;
        return;
      }
      for (let i = 0; i < keys.length; i += KEYS_PER_QUERY) {
        yield* await findExposuresByKeys(
          context.store.db,
          context.scope,
          keys.slice(i, i + KEYS_PER_QUERY),
          filter,
        );
      }
    }
  })();
}

builder.subscriptionType({
  description: "Live updates, confined like every read to the caller's tenant and offices.",
  authScopes: { viewer: true },
});

builder.subscriptionField('exposureChanged', (t) =>
  t.field({
    type: Exposure,
    description:
      'The new state of each exposure that matches the filter, after every committed ingest that touched it. Served over server-sent events (Accept: text/event-stream). When changes may have been missed (the gateway lost its change feed connection), the stream ends with a CHANGE_FEED_INTERRUPTED error: read the state again and resubscribe.',
    args: { filter: t.arg({ type: ExposureFilterInput }) },
    subscribe: (_root, args, context) =>
      changedExposures(
        context,
        toExposureFilter(args.filter, () => context.clock?.() ?? new Date()),
      ),
    resolve: (change) => {
      if (change instanceof ChangeFeedInterruptedError) throw change;
      return change;
    },
  }),
);
