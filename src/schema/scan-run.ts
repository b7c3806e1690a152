/** ScanRun: a scanner's run in an office, its completion, the runs query and the diff of two runs. */
import type { GatewayContext } from '../context.ts';
import {
  countExposures,
  DEFAULT_EXPOSURE_ORDER,
  exposureCursor,
  findExposures,
} from '../db/repositories/exposures.ts';
import {
  countPersisting,
  countScanRuns,
  diffCondition,
  findPreviousRun,
  findScanRuns,
  findScanRunsByKeys,
  type ScanRunKey,
  type ScanRun as ScanRunShape,
  scanRunCursor,
} from '../db/repositories/scan-runs.ts';
import { DomainError } from '../domain.ts';
import { clientError } from '../errors.ts';
import { completeScanRun } from '../ingest/scan-runs.ts';
import { inBatch } from './batch.ts';
import { builder } from './builder.ts';
import { ExposureConnection } from './exposure.ts';
import { checkFilter } from './filters.ts';
import { connectionOf, forwardPageArgs } from './node.ts';

/** The loader key of a run, which is also the id part of its global id. */
function runNodeKey(run: ScanRunKey): string {
  return JSON.stringify([run.officeId, run.scanRunId]);
}

function runKeyOf(nodeKey: string): ScanRunKey {
  const [officeId, scanRunId] = JSON.parse(nodeKey) as [string, string];
  return { officeId, scanRunId };
}

/** Global ids are opaque to clients, so one that does not decode is their error, not ours. */
function parseRunNodeKey(id: string): string {
  let parts: unknown;
  try {
    parts = JSON.parse(id);
  } catch {
    parts = null;
  }
  const [officeId, scanRunId, ...rest] = Array.isArray(parts) ? (parts as unknown[]) : [];
  if (typeof officeId !== 'string' || typeof scanRunId !== 'string' || rest.length > 0) {
    throw clientError('BAD_USER_INPUT', 'not a ScanRun id: use the id field of a ScanRun');
  }
  return runNodeKey({ officeId, scanRunId });
}

export const ScanRun = builder.loadableNodeRef('ScanRun', {
  id: {
    description: 'Global id of the run, for node(id).',
    resolve: (run: ScanRunShape) => runNodeKey(run),
    parse: parseRunNodeKey,
  },
  // Another tenant's or office's runs simply find nothing.
  load: (keys: string[], context: GatewayContext) =>
    inBatch(context, 'ScanRun', keys.length, () =>
      findScanRunsByKeys(context.store.db, context.scope, keys.map(runKeyOf)),
    ),
  toKey: (run) => runNodeKey(run),
  sort: true,
  cacheResolved: true,
});

ScanRun.implement({
  description:
    'One run of a scanner in an office: what its events observed, kept up to date as they are ingested, and what its completion closed. An nmap or nuclei file is one run; a completed run takes no new events.',
  fields: (t) => ({
    officeId: t.exposeID('officeId', { description: 'The office the run scanned.' }),
    scanRunId: t.exposeString('scanRunId', { description: 'The id its events carry as scanRunId.' }),
    scannerType: t.exposeString('scannerType', {
      nullable: true,
      description: 'The scanner, e.g. nmap: from its first event with one, or from its completion.',
    }),
    startedAt: t.expose('startedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'The earliest of its events’ timestamps and the startedAt its completion gave.',
    }),
    completedAt: t.expose('completedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the run was completed (completeScanRun); null while it is open.',
    }),
    eventsObserved: t.exposeInt('eventsObserved', {
      description:
        'Events of the run in the log, less the inferred ones its completion wrote; duplicates count nothing.',
    }),
    exposuresObserved: t.exposeInt('exposuresObserved', {
      description: 'Distinct exposures with an event of the run.',
    }),
    exposuresNew: t.exposeInt('exposuresNew', {
      description: 'Of those, the exposures first seen in this run.',
    }),
    exposuresReopened: t.exposeInt('exposuresReopened', {
      description: 'Of those, the exposures that were CLOSED before the run saw them OPEN.',
    }),
    exposuresClosed: t.exposeInt('exposuresClosed', {
      description:
        'Exposures its completion closed because the run did not see them (eventAction not_observed).',
    }),
  }),
});

const ScanRunConnection = builder.connectionObject(
  { type: ScanRun, name: 'ScanRunConnection', description: 'A page of scan runs.' },
  { description: 'A scan run and its cursor.' },
);

const ScanScopeInput = builder.inputType('ScanScopeInput', {
  description:
    'What a run covered. Every list given bounds the run; an exposure outside it is left open. An exposure without a dstIp (dstPort) is outside a scope that lists CIDRs (port ranges).',
  fields: (t) => ({
    exposureClasses: t.stringList({ description: 'Only exposures of these classes, e.g. open_port.' }),
    dstIpIn: t.stringList({ description: 'CIDRs the run scanned; a host is /32 or /128.' }),
    dstPortRanges: t.stringList({ description: 'Ports the run scanned: "22", "1-1024".' }),
  }),
});

const CompleteScanRunInput = builder.inputType('CompleteScanRunInput', {
  description: 'The end of a scan run, and what it covered.',
  fields: (t) => ({
    officeId: t.id({
      required: true,
      description: 'The office the run scanned (one of the token’s offices).',
    }),
    scanRunId: t.string({ required: true, description: 'The run, as its events name it.' }),
    scannerType: t.string({
      required: true,
      description: 'The scanner: only exposures it reported last are closed.',
    }),
    completedAt: t.field({
      type: 'DateTime',
      required: true,
      description: 'When the run finished: the timestamp of the inferred CLOSED events.',
    }),
    startedAt: t.field({
      type: 'DateTime',
      description: 'When the run started, when its events do not say.',
    }),
    scope: t.field({
      type: ScanScopeInput,
      description: 'What the run covered; absent: everything of the office this scanner type reported.',
    }),
  }),
});

builder.mutationField('completeScanRun', (t) =>
  t.field({
    type: ScanRun,
    authScopes: { ingestor: true },
    description:
      'Completes a run: every exposure of the office that is OPEN, was last reported by this scanner type, lies in the scope, was last seen before completedAt and has no event of the run gets an inferred CLOSED event at completedAt (eventAction "not_observed", eventKind "inferred", scanRunId = the run, a deterministic eventId, actor = the caller), in one transaction. Completing a run again writes nothing and returns it as it is. Later new events of the run are refused (SCAN_RUN_COMPLETED).',
    args: { input: t.arg({ type: CompleteScanRunInput, required: true }) },
    resolve: (_root, { input }, context) =>
      completeScanRun(
        { store: context.store, config: context.config.ingest, changes: context.changes },
        context.scope,
        {
          officeId: String(input.officeId),
          scanRunId: input.scanRunId,
          scannerType: input.scannerType,
          completedAt: input.completedAt.toISOString(),
          startedAt: input.startedAt?.toISOString() ?? null,
          scope: input.scope ?? null,
          actor: context.principal.actor,
        },
      ),
  }),
);

const ScanRunFilterInput = builder.inputType('ScanRunFilter', {
  description:
    'Conditions on scan runs, all of which must hold. A list matches any of its values; an empty list matches nothing.',
  fields: (t) => ({
    officeIds: t.idList({ description: 'Only runs of these offices.' }),
    scannerTypes: t.stringList({ description: 'Only runs of these scanners.' }),
    completed: t.boolean({ description: 'true: completed runs only; false: open runs only.' }),
    from: t.field({
      type: 'DateTime',
      description: 'Runs whose time (completedAt, or startedAt while open) is at or after this instant.',
    }),
    to: t.field({ type: 'DateTime', description: 'Runs whose time is before this instant (exclusive).' }),
  }),
});

builder.queryField('scanRuns', (t) =>
  t.field({
    type: ScanRunConnection,
    description:
      'Scan runs of the caller’s offices that match the filter, newest first: by completedAt, or startedAt while a run is open; then by office and run id.',
    args: { filter: t.arg({ type: ScanRunFilterInput }), ...forwardPageArgs(t.arg) },
    resolve: async (_root, args, context) => {
      const input = args.filter;
      if (input) checkFilter(input);
      const filter = input ? { ...input, officeIds: input.officeIds?.map(String) ?? null } : null;
      const { db } = context.store;
      return connectionOf(await findScanRuns(db, context.scope, filter, args), scanRunCursor, () =>
        countScanRuns(db, context.scope, filter),
      );
    },
  }),
);

interface ScanRunDiffShape {
  run: ScanRunShape;
  against: ScanRunShape | null;
}

const ScanRunDiff = builder.objectRef<ScanRunDiffShape>('ScanRunDiff').implement({
  description:
    'Two runs of an office compared as sets over the log: a run observed an exposure when it has an event of it (the inferred events of its completion do not count).',
  fields: (t) => {
    const side = (which: 'new' | 'resolved', description: string) =>
      t.field({
        type: ExposureConnection,
        description,
        args: forwardPageArgs(t.arg),
        resolve: async (diff, args, context) => {
          const { db } = context.store;
          const within = diffCondition(db, context.scope.tenantId, which, diff.run, diff.against);
          const order = DEFAULT_EXPOSURE_ORDER;
          return connectionOf(
            await findExposures(db, context.scope, null, { ...args, order }, within),
            (exposure) => exposureCursor(order, exposure),
            () => countExposures(db, context.scope, null, within),
          );
        },
      });
    return {
      run: t.field({ type: ScanRun, description: 'The run.', resolve: (diff) => diff.run }),
      against: t.field({
        type: ScanRun,
        nullable: true,
        description: 'The run it is compared with; null when there is no earlier completed run.',
        resolve: (diff) => diff.against,
      }),
      new: side(
        'new',
        'Exposures observed by the run and not by against, in their current state, last seen first.',
      ),
      resolved: side(
        'resolved',
        'Exposures observed by against and closed by the run’s completion, in their current state, last seen first.',
      ),
      persisting: t.int({
        description: 'How many exposures both runs observed.',
        resolve: (diff, _args, context) =>
          diff.against
            ? countPersisting(context.store.db, context.scope.tenantId, diff.run, diff.against)
            : 0,
      }),
    };
  },
});

builder.queryField('scanRunDiff', (t) =>
  t.field({
    type: ScanRunDiff,
    description:
      'What changed between two runs of an office. against defaults to the latest completed run of the same office and scanner type that completed before this one (any completed one when this run is open).',
    args: {
      officeId: t.arg.id({ required: true, description: 'The office of the runs.' }),
      scanRunId: t.arg.string({ required: true, description: 'The run.' }),
      against: t.arg.string({ description: 'The run to compare it with, of the same office.' }),
    },
    resolve: async (_root, args, context) => {
      const officeId = String(args.officeId);
      const { db } = context.store;
      const find = async (scanRunId: string, field: string) => {
        const [run] = await findScanRunsByKeys(db, context.scope, [{ officeId, scanRunId }]);
        if (!run) {
          throw new DomainError('NOT_FOUND', `${field}: no scan run "${scanRunId}" in office "${officeId}"`, {
            field,
          });
        }
        return run;
      };
      const run = await find(args.scanRunId, 'scanRunId');
      const against =
        args.against === null || args.against === undefined
          ? await findPreviousRun(db, context.scope, run)
          : await find(args.against, 'against');
      return { run, against };
    },
  }),
);
