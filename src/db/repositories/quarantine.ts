/**
 * The dead-letter queue: files that could not be ingested, kept with their content so they can be
 * replayed. A file without an office belongs to the whole tenant: only callers of every office see it.
 */
import { randomUUID } from 'node:crypto';
import { type Expression, type Kysely, type SqlBool, sql, type Updateable } from 'kysely';
import type { QuarantineStatus, Scope } from '../../domain.ts';
import type { Database, QuarantinedFileRow, QuarantinedFileTable } from '../tables.ts';
import { attributed } from '../telemetry.ts';
import { isPostgres } from './exposure-keys.ts';
import { ScopedConditions } from './filters.ts';
import { encodeCursor, type Page, type PageArgs, pageOf, planPage, type SortKey } from './pagination.ts';
import { scopedOffices } from './scope.ts';

/** Lists are "any of"; an empty list matches nothing. [from, to) bounds the quarantine time. */
export interface QuarantineFilter {
  officeIds?: readonly string[] | null;
  statuses?: readonly QuarantineStatus[] | null;
  scannerTypes?: readonly string[] | null;
  from?: Date | null;
  to?: Date | null;
}

/** A quarantined file as the API shows it (the content stays in the store). */
export interface QuarantinedFile {
  id: string;
  filename: string;
  fileSize: number;
  fileHash: string;
  errorType: string;
  errorMessage: string;
  errorDetails: unknown;
  scannerType: string | null;
  officeId: string | null;
  status: QuarantineStatus;
  /** How the file is read: events, nmap or nuclei. */
  format: string;
  /** False when the content was not kept (a reported file) or kept only in part (too large). */
  contentStored: boolean;
  replayCount: number;
  discardReason: string | null;
  quarantinedAt: Date;
  resolvedAt: Date | null;
}

/** What went wrong with a file: a type (e.g. PARSE_ERROR), a message and structured details. */
export interface QuarantineReason {
  errorType: string;
  errorMessage: string;
  errorDetails: unknown;
}

export interface NewQuarantinedFile extends QuarantineReason {
  filename: string;
  fileSize: number;
  fileHash: string;
  scannerType: string | null;
  officeId: string | null;
  /** How the file is read; events when not given. */
  format?: string;
  /** The file's text, already cut to the stored maximum; null when the reporter did not send it. */
  content: string | null;
  contentTruncated: boolean;
}

type Db = Kysely<Database>;

const COLUMNS = [
  'q.id',
  'q.filename',
  'q.file_size',
  'q.file_hash',
  'q.error_type',
  'q.error_message',
  'q.error_details',
  'q.scanner_type',
  'q.office_id',
  'q.status',
  'q.format',
  'q.content_truncated',
  sql<boolean>`q.content is not null`.as('has_content'),
  'q.replay_count',
  'q.discard_reason',
  'q.quarantined_at',
  'q.resolved_at',
] as const;

type ListedRow = Omit<QuarantinedFileRow, 'tenant_id' | 'content'> & { has_content: boolean };

function toQuarantinedFile(row: ListedRow): QuarantinedFile {
  return {
    id: row.id,
    filename: row.filename,
    fileSize: Number(row.file_size),
    fileHash: row.file_hash,
    errorType: row.error_type,
    errorMessage: row.error_message,
    // DuckDB reads JSON back as text, PostgreSQL as a value.
    errorDetails: typeof row.error_details === 'string' ? JSON.parse(row.error_details) : row.error_details,
    scannerType: row.scanner_type,
    officeId: row.office_id,
    status: row.status,
    format: row.format ?? 'events',
    contentStored: Boolean(row.has_content) && !row.content_truncated,
    replayCount: Number(row.replay_count),
    discardReason: row.discard_reason,
    quarantinedAt: row.quarantined_at,
    resolvedAt: row.resolved_at,
  };
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/** Newest first; the id breaks ties. */
const SORT_KEY: SortKey = {
  columns: [
    { expression: sql.ref('q.quarantined_at'), type: 'timestamp' },
    { expression: sql.ref('q.id'), type: 'text' },
  ],
  direction: 'desc',
};

function conditions(
  eb: Parameters<typeof scopedOffices>[0],
  scope: Scope,
  filter: QuarantineFilter | null | undefined,
): Expression<SqlBool> {
  const where = new ScopedConditions(eb, scope, 'q');
  where.anyOf('office_id', filter?.officeIds);
  where.anyOf('status', filter?.statuses);
  where.anyOf('scanner_type', filter?.scannerTypes);
  where.compare('quarantined_at', '>=', filter?.from);
  where.compare('quarantined_at', '<', filter?.to);
  return where.all();
}

/** One keyset page of the scope's quarantined files, newest first. */
export async function findQuarantinedFiles(
  db: Db,
  scope: Scope,
  filter: QuarantineFilter | null | undefined,
  page: PageArgs,
): Promise<Page<QuarantinedFile>> {
  db = attributed(db, findQuarantinedFiles);
  const plan = planPage(SORT_KEY, page, isPostgres(db));
  const rows = await db
    .selectFrom('quarantined_files as q')
    .select(COLUMNS)
    .where((eb) => eb.and([conditions(eb, scope, filter), ...plan.conditions]))
    .orderBy(plan.order)
    .limit(plan.limit)
    .execute();
  return pageOf(plan, rows.map(toQuarantinedFile), page);
}

/** A file's cursor in the connection: its sort key. */
export function quarantineCursor(file: QuarantinedFile): string {
  return encodeCursor([file.quarantinedAt, file.id]);
}

/** How many of the scope's quarantined files match, across all pages. */
export async function countQuarantinedFiles(
  db: Db,
  scope: Scope,
  filter: QuarantineFilter | null | undefined,
): Promise<number> {
  db = attributed(db, countQuarantinedFiles);
  const row = await db
    .selectFrom('quarantined_files as q')
    .select(sql<number>`cast(count(*) as integer)`.as('matching'))
    .where((eb) => conditions(eb, scope, filter))
    .executeTakeFirst();
  return Number(row?.matching ?? 0);
}

/** The scope's files among `ids`, in no particular order; ids outside the scope are left out. */
export async function findQuarantinedFilesByIds(
  db: Db,
  scope: Scope,
  ids: readonly string[],
): Promise<QuarantinedFile[]> {
  db = attributed(db, findQuarantinedFilesByIds);
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('quarantined_files as q')
    .select(COLUMNS)
    .where((eb) => eb.and([scopedOffices(eb, scope, 'q'), eb('q.id', 'in', ids)]))
    .execute();
  return rows.map(toQuarantinedFile);
}

/** A file with its stored content, for a replay. */
export async function findQuarantinedFileContent(
  db: Db,
  scope: Scope,
  id: string,
): Promise<{ file: QuarantinedFile; content: string | null } | undefined> {
  db = attributed(db, findQuarantinedFileContent);
  const row = await db
    .selectFrom('quarantined_files as q')
    .select([...COLUMNS, 'q.content'])
    .where((eb) => eb.and([scopedOffices(eb, scope, 'q'), eb('q.id', '=', id)]))
    .executeTakeFirst();
  if (!row) return undefined;
  const { content, ...listed } = row;
  return { file: toQuarantinedFile(listed), content };
}

/** Stores a new PENDING file for the scope's tenant; the caller checked the office. */
export async function insertQuarantinedFile(
  db: Db,
  scope: Scope,
  file: NewQuarantinedFile,
  at: Date,
): Promise<string> {
  db = attributed(db, insertQuarantinedFile);
  const id = randomUUID();
  await db
    .insertInto('quarantined_files')
    .values({
      tenant_id: scope.tenantId,
      id,
      filename: file.filename,
      file_size: file.fileSize,
      file_hash: file.fileHash,
      error_type: file.errorType,
      error_message: file.errorMessage,
      error_details: json(file.errorDetails),
      scanner_type: file.scannerType,
      office_id: file.officeId,
      status: 'PENDING',
      content: file.content,
      content_truncated: file.contentTruncated,
      replay_count: 0,
      discard_reason: null,
      quarantined_at: at.toISOString(),
      resolved_at: null,
      format: file.format ?? 'events',
    })
    .execute();
  return id;
}

/** Updates a PENDING file of the scope; false when there is none (unknown, out of scope or resolved). */
async function updatePending(
  db: Db,
  scope: Scope,
  id: string,
  set: Updateable<QuarantinedFileTable>,
  attempt: boolean,
): Promise<boolean> {
  const result = await db
    .updateTable('quarantined_files as q')
    .set(set)
    .$if(attempt, (qb) => qb.set({ replay_count: sql`replay_count + 1` }))
    .where((eb) =>
      eb.and([scopedOffices(eb, scope, 'q'), eb('q.id', '=', id), eb('q.status', '=', 'PENDING')]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A replay attempt failed: the file keeps PENDING with the new error and one more attempt. */
export function recordReplayFailure(db: Db, scope: Scope, id: string, error: QuarantineReason) {
  db = attributed(db, recordReplayFailure);
  return updatePending(
    db,
    scope,
    id,
    {
      error_type: error.errorType,
      error_message: error.errorMessage,
      error_details: json(error.errorDetails),
    },
    true,
  );
}

/** A replay succeeded: the file is REPLAYED and resolved. */
export function markReplayed(db: Db, scope: Scope, id: string, at: Date) {
  db = attributed(db, markReplayed);
  return updatePending(
    db,
    scope,
    id,
    {
      status: 'REPLAYED',
      resolved_at: at.toISOString(),
    },
    true,
  );
}

/** An admin gave the file up, with a reason. */
export function markDiscarded(db: Db, scope: Scope, id: string, reason: string, at: Date) {
  db = attributed(db, markDiscarded);
  return updatePending(
    db,
    scope,
    id,
    {
      status: 'DISCARDED',
      discard_reason: reason,
      resolved_at: at.toISOString(),
    },
    false,
  );
}
