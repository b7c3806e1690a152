/**
 * Triage: a person's decision about one exposure, appended to the log as an ordinary event, so the current
 * state stays the fold of the log.
 *
 * The event carries exposureClass, status and severity over from the current state. Those are latest
 * fields: the latest event decides them, null included, and every event must have them; a triage event
 * that left them out or set its own would change what they mean (a decision is not a scan). Carried over,
 * the state keeps its values, the open streak continues or stays closed, and only the disposition group
 * (status, reason, expiry, which move together) and the latest event's kind and action change. Its
 * coalesced fields are empty, which by the COALESCE rule erases nothing. One limit follows from the fold:
 * a scanner event older than the decision but arriving after it is overruled by the carried values, as by
 * any later event.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../db/database.ts';
import { writeEvents } from '../db/repositories/event-log.ts';
import { findExposureForWrite } from '../db/repositories/exposures.ts';
import { DomainError, type ExposureKey, NO_DISPOSITION, type Scope, scopeIncludesOffice } from '../domain.ts';
import type { ChangeFeed } from './changes.ts';
import { validateEvents } from './validate.ts';

export interface TriageRequest extends ExposureKey {
  dispositionStatus: string;
  dispositionReason: string;
  expiresAt: Date | null;
  /** Who decides: the caller's token subject or API key name. */
  actor: string | null;
  /** When: the event's timestamp. */
  now: Date;
}

/** The input field each event field comes from, for errors that name what the caller sent. */
const INPUT_FIELD: Record<string, string> = {
  officeId: 'input.officeId',
  exposureId: 'input.exposureId',
  dispositionStatus: 'input.dispositionStatus',
  dispositionReason: 'input.dispositionReason',
  dispositionExpiresAt: 'input.expiresAt',
};

/** Appends the decision to the log and merges it; returns once committed and published. */
export async function triageExposure(
  deps: { store: Store; changes?: ChangeFeed },
  scope: Scope,
  request: TriageRequest,
): Promise<void> {
  const { officeId, exposureId, now } = request;
  if (!scopeIncludesOffice(scope, officeId)) {
    throw new DomainError('FORBIDDEN', `input.officeId: the caller may not triage in office "${officeId}"`, {
      field: 'input.officeId',
    });
  }
  if (request.expiresAt !== null && request.expiresAt.getTime() <= now.getTime()) {
    throw new DomainError('BAD_USER_INPUT', 'input.expiresAt: must be later than now', {
      field: 'input.expiresAt',
    });
  }
  if (request.expiresAt !== null && request.dispositionStatus === NO_DISPOSITION) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `input.expiresAt: "${NO_DISPOSITION}" clears a decision and takes no expiry`,
      {
        field: 'input.expiresAt',
      },
    );
  }
  await deps.store.write(async (trx) => {
    const state = await findExposureForWrite(trx, scope, { officeId, exposureId });
    if (!state) {
      throw new DomainError(
        'NOT_FOUND',
        `input.exposureId: no exposure "${exposureId}" in office "${officeId}"`,
        {
          field: 'input.exposureId',
        },
      );
    }
    const { valid, rejected } = validateEvents(
      [
        {
          eventId: `triage:${randomUUID()}`,
          timestamp: now.toISOString(),
          officeId,
          exposureId,
          exposureClass: state.exposureClass,
          status: state.status,
          severity: state.severity,
          eventKind: 'triage',
          eventAction: 'triaged',
          dispositionStatus: request.dispositionStatus,
          dispositionReason: request.dispositionReason,
          ...(request.expiresAt ? { dispositionExpiresAt: request.expiresAt.toISOString() } : {}),
        },
      ],
      { maxFutureSkewSeconds: 0, now },
    );
    const problem = rejected[0];
    if (problem || !valid[0]) {
      const field = (problem?.field && INPUT_FIELD[problem.field]) ?? 'input';
      throw new DomainError('BAD_USER_INPUT', `${field}: ${problem?.message ?? 'not a valid decision'}`, {
        field,
      });
    }
    await writeEvents(trx, scope.tenantId, [{ ...valid[0].event, actor: request.actor }]);
  });
  // Only after commit: subscribers must never see a change that was rolled back.
  deps.changes?.publish({ tenantId: scope.tenantId, exposures: [{ officeId, exposureId }] });
}
