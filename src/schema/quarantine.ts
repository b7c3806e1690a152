/** QuarantinedFile: the dead-letter queue of scan files, its query and its mutations. */
import { decodeGlobalID } from '@pothos/plugin-relay';
import type { GatewayContext } from '../context.ts';
import {
  countQuarantinedFiles,
  findQuarantinedFiles,
  findQuarantinedFilesByIds,
  type QuarantinedFile as QuarantinedFileShape,
  quarantineCursor,
} from '../db/repositories/quarantine.ts';
import { clientError } from '../errors.ts';
import { discardQuarantinedFile, reportQuarantinedFile } from '../ingest/quarantine.ts';
import { inBatch } from './batch.ts';
import { builder } from './builder.ts';
import { QuarantineStatus, ScanFileFormat } from './enums.ts';
import { connectionOf, forwardPageArgs } from './node.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Global ids are opaque to clients, so one that does not decode is their error, not ours. */
function parseQuarantinedFileId(id: string): string {
  if (!UUID.test(id)) {
    throw clientError('BAD_USER_INPUT', 'not a QuarantinedFile id: use the id field of a QuarantinedFile');
  }
  return id;
}

export const QuarantinedFile = builder.loadableNodeRef('QuarantinedFile', {
  id: {
    description: 'Global id of the file, for node(id), replayQuarantinedFile and discardQuarantinedFile.',
    resolve: (file: QuarantinedFileShape) => file.id,
    parse: parseQuarantinedFileId,
  },
  load: (ids: string[], context: GatewayContext) =>
    inBatch(context, 'QuarantinedFile', ids.length, () =>
      findQuarantinedFilesByIds(context.store.db, context.scope, ids),
    ),
  toKey: (file) => file.id,
  sort: true,
  cacheResolved: true,
});

QuarantinedFile.implement({
  description:
    'A scan file that could not be ingested, kept with what was wrong (and, up to a size limit, its content) until it is replayed or discarded.',
  fields: (t) => ({
    filename: t.exposeString('filename', { description: 'Name of the file as sent.' }),
    fileSize: t.exposeInt('fileSize', { description: 'Size of the file in bytes.' }),
    fileHash: t.exposeString('fileHash', {
      description: 'sha256 of the content, lowercase hex.',
    }),
    errorType: t.exposeString('errorType', {
      description:
        'What kind of problem stopped the file (of its latest attempt): PARSE_ERROR, INVALID_EVENTS, EMPTY_FILE, CONTENT_UNAVAILABLE, or a type a worker reported.',
    }),
    errorMessage: t.exposeString('errorMessage', {
      description: 'The problem in words, with the line of the first one.',
    }),
    errorDetails: t.expose('errorDetails', {
      type: 'JSON',
      nullable: true,
      description:
        'Every problem found, up to 1000: { format, events, problemCount, problems: [{ line, index, field, code, message }] }; a failed replay adds attempt and attemptedAt.',
    }),
    scannerType: t.exposeString('scannerType', {
      nullable: true,
      description: 'Scanner that made the file.',
    }),
    officeId: t.exposeID('officeId', {
      nullable: true,
      description: 'Office the file is for; null for a file of the whole tenant.',
    }),
    status: t.expose('status', {
      type: QuarantineStatus,
      description: 'PENDING, REPLAYED or DISCARDED.',
    }),
    format: t.field({
      type: ScanFileFormat,
      description: 'How the file is read, and replayed: the format it was sent in.',
      resolve: (file) => (file.format === 'nmap' || file.format === 'nuclei' ? file.format : 'events'),
    }),
    contentStored: t.exposeBoolean('contentStored', {
      description:
        'Whether the whole content is kept, so the file can be replayed. False for files reported by a worker and for files over the stored size limit.',
    }),
    replayCount: t.exposeInt('replayCount', {
      description: 'How many replays were attempted.',
    }),
    discardReason: t.exposeString('discardReason', {
      nullable: true,
      description: 'Why an admin discarded the file.',
    }),
    quarantinedAt: t.expose('quarantinedAt', {
      type: 'DateTime',
      description: 'When the file entered the quarantine.',
    }),
    resolvedAt: t.expose('resolvedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the file was replayed successfully or discarded.',
    }),
  }),
});

export const QuarantinedFileConnection = builder.connectionObject(
  {
    type: QuarantinedFile,
    name: 'QuarantinedFileConnection',
    description: 'A page of quarantined files.',
  },
  { description: 'A quarantined file and its cursor.' },
);

const QuarantineFilterInput = builder.inputType('QuarantineFilter', {
  description:
    'Conditions on quarantined files, all of which must hold. A list matches any of its values; an empty list matches nothing.',
  fields: (t) => ({
    officeIds: t.idList({ description: 'Only files of these offices.' }),
    statuses: t.field({ type: [QuarantineStatus], description: 'Only files in these states.' }),
    scannerTypes: t.stringList({ description: 'Only files of these scanners.' }),
    from: t.field({ type: 'DateTime', description: 'Quarantined at or after this instant (inclusive).' }),
    to: t.field({ type: 'DateTime', description: 'Quarantined before this instant (exclusive).' }),
  }),
});

builder.queryField('quarantinedFiles', (t) =>
  t.field({
    type: QuarantinedFileConnection,
    description: 'Quarantined files of the caller’s offices that match the filter, newest first.',
    args: { filter: t.arg({ type: QuarantineFilterInput }), ...forwardPageArgs(t.arg) },
    resolve: async (_root, args, context) => {
      const { db } = context.store;
      const filter = args.filter ?? null;
      return connectionOf(await findQuarantinedFiles(db, context.scope, filter, args), quarantineCursor, () =>
        countQuarantinedFiles(db, context.scope, filter),
      );
    },
  }),
);

/** What the dead-letter workflow needs from the request: the server's store and change feed. */
export function quarantineDeps(context: GatewayContext) {
  return {
    store: context.store,
    config: context.config.ingest,
    changes: context.changes,
    actor: context.principal.actor,
    metrics: context.metrics,
  };
}

/** The uuid of a QuarantinedFile global id; any other id is a file that does not exist. */
export function fileIdOf(globalId: string | number): string {
  try {
    const { typename, id } = decodeGlobalID(String(globalId));
    if (typename === 'QuarantinedFile' && UUID.test(id)) return id;
  } catch {
    // Falls through to NOT_FOUND: ids are opaque to clients.
  }
  throw clientError('NOT_FOUND', `no quarantined file "${globalId}"`);
}

const QuarantineFileInput = builder.inputType('QuarantineFileInput', {
  description: 'A file a worker could not process, reported so that it shows in the quarantine.',
  fields: (t) => ({
    filename: t.string({ required: true, description: 'Name of the file.' }),
    fileSize: t.int({ required: true, description: 'Size of the file in bytes.' }),
    fileHash: t.string({ required: true, description: 'sha256 of the content, 64 hex digits.' }),
    errorType: t.string({ required: true, description: 'What kind of problem, e.g. PARSE_ERROR.' }),
    errorMessage: t.string({ required: true, description: 'The problem in words.' }),
    errorDetails: t.field({ type: 'JSON', description: 'Structured details, e.g. lines and fields.' }),
    scannerType: t.string({ description: 'Scanner that made the file.' }),
    officeId: t.id({ description: 'Office the file is for (one of the token’s offices).' }),
  }),
});

builder.mutationField('quarantineFile', (t) =>
  t.field({
    type: QuarantinedFile,
    authScopes: { ingestor: true },
    description: 'Reports a file a worker could not process; it is listed as PENDING, without content.',
    args: { input: t.arg({ type: QuarantineFileInput, required: true }) },
    resolve: (_root, { input }, context) =>
      reportQuarantinedFile(quarantineDeps(context), context.scope, {
        filename: input.filename,
        fileSize: input.fileSize,
        fileHash: input.fileHash,
        errorType: input.errorType,
        errorMessage: input.errorMessage,
        errorDetails: input.errorDetails ?? null,
        scannerType: input.scannerType ?? null,
        officeId: input.officeId === null || input.officeId === undefined ? null : String(input.officeId),
      }),
  }),
);

builder.mutationField('discardQuarantinedFile', (t) =>
  t.field({
    type: QuarantinedFile,
    authScopes: { admin: true },
    description: 'Gives a PENDING file up, with a reason; it stays listed as DISCARDED.',
    args: {
      id: t.arg.id({ required: true, description: 'The id of a QuarantinedFile.' }),
      reason: t.arg.string({ required: true, description: 'Why the file is given up.' }),
    },
    resolve: (_root, args, context) =>
      discardQuarantinedFile(quarantineDeps(context), context.scope, fileIdOf(args.id), args.reason),
  }),
);
