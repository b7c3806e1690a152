/**
 * The `complete-run` command: completes a scan run in the local database or through a remote gateway,
 * and the line both it and `ingest` print for a completed run.
 */
import type { Config } from '../config.ts';
import type { Store } from '../db/database.ts';
import { DomainError } from '../domain.ts';
import { type CompleteScanRunRequest, completeScanRun } from '../ingest/scan-runs.ts';
import type { GatewayClient } from './gateway-client.ts';

/** What the command prints of a run. */
export interface RunSummary {
  officeId: string;
  scanRunId: string;
  completedAt: Date | string | null;
  exposuresObserved: number;
  exposuresNew: number;
  exposuresReopened: number;
  exposuresClosed: number;
}

export function runLine(run: RunSummary): string {
  const at = run.completedAt instanceof Date ? run.completedAt.toISOString() : run.completedAt;
  return (
    `run ${run.scanRunId} of office ${run.officeId} completed at ${at}: ${run.exposuresObserved} exposures observed ` +
    `(${run.exposuresNew} new, ${run.exposuresReopened} reopened), ${run.exposuresClosed} closed as not observed`
  );
}

/** A refusal the caller can act on (a bad CIDR, an office the token lacks): the command's message. */
export class CompleteRunError extends Error {}

/** Completes a run of one tenant in the local store; `request.actor` names who ran the command. */
export async function completeRunLocally(
  config: Config,
  store: Store,
  tenantId: string,
  request: CompleteScanRunRequest,
): Promise<RunSummary> {
  try {
    return await completeScanRun({ store, config: config.ingest }, { tenantId, officeIds: 'all' }, request);
  } catch (error) {
    if (error instanceof DomainError) throw new CompleteRunError(`${error.message} (${error.code})`);
    throw error;
  }
}

/** Completes a run through a remote gateway's completeScanRun. */
export async function completeRunRemotely(
  client: GatewayClient,
  request: Omit<CompleteScanRunRequest, 'actor'>,
): Promise<RunSummary> {
  const { startedAt, scope, ...rest } = request;
  return client.completeScanRun({
    ...rest,
    ...(startedAt ? { startedAt } : {}),
    ...(scope
      ? {
          scope: {
            ...(scope.exposureClasses ? { exposureClasses: [...scope.exposureClasses] } : {}),
            ...(scope.dstIpIn ? { dstIpIn: [...scope.dstIpIn] } : {}),
            ...(scope.dstPortRanges ? { dstPortRanges: [...scope.dstPortRanges] } : {}),
          },
        }
      : {}),
  });
}
