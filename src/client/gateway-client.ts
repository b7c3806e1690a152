/** A typed client of a remote gateway, over the documents `npm run codegen` generates from src/client. */

import { setTimeout } from 'node:timers/promises';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { ExposureEvent, IngestResult, RejectedEvent } from '../domain.ts';
import {
  CompleteScanRunDocument,
  type CompleteScanRunInput,
  type CompleteScanRunMutation,
  type ExposureEventInput,
  IngestChunkDocument,
  type QuarantineFileInput,
  ReportQuarantinedFileDocument,
} from '../gql/graphql.ts';
import { IngestRejectedError } from '../ingest/ingest.ts';
import { MAX_JSON_BYTES } from '../ingest/validate.ts';

/** The gateway refused a request, or could not be reached; `code` is its extensions.code when it sent one. */
export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** How often a request waits out a Retry-After, and the longest wait, before the refusal is the answer. */
const MAX_WAITS = 5;
const MAX_WAIT_SECONDS = 60;

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; rejected?: RejectedEvent[] };
}

/** The event as a GraphQL input: the same fields, with the empty ones left out. */
export function toEventInput(event: ExposureEvent): ExposureEventInput {
  return Object.fromEntries(
    Object.entries(event).filter(([, value]) => value !== null && value !== undefined),
  ) as ExposureEventInput;
}

export class GatewayClient {
  /** Largest JSON value (errorDetails) the gateway takes. */
  readonly maxJsonBytes = MAX_JSON_BYTES;
  /** Switched on when the gateway runs only persisted operations: then only their hashes are sent. */
  #persistedOnly = false;

  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async execute<Result, Variables>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
  ): Promise<Result> {
    const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
    const body =
      this.#persistedOnly && hash
        ? { variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }
        : { query: print(document), variables };
    const response = await this.#post(JSON.stringify(body));
    const text = await response.text();
    let payload: { data?: Result | null; errors?: GraphQLErrorBody[] };
    try {
      payload = JSON.parse(text);
    } catch {
      throw new GatewayError(
        `${this.url} answered ${response.status} without GraphQL: ${text.slice(0, 200)}`,
      );
    }
    const [error] = payload.errors ?? [];
    if (error?.extensions?.code === 'PERSISTED_QUERY_ONLY' && hash && !this.#persistedOnly) {
      this.#persistedOnly = true;
      return this.execute(document, variables);
    }
    if (error) {
      if (error.extensions?.code === 'INVALID_EVENTS') {
        throw new IngestRejectedError('INVALID_EVENTS', error.message, error.extensions.rejected ?? []);
      }
      throw new GatewayError(error.message, error.extensions?.code);
    }
    if (!payload.data) throw new GatewayError(`${this.url} answered ${response.status} without data`);
    return payload.data;
  }

  /**
   * A refusal that passes with time (429 RATE_LIMITED, 503 OVERLOADED) says when to come back: the
   * request is sent again then, a few times. Nothing ran on the gateway, so nothing is done twice.
   */
  async #post(body: string): Promise<Response> {
    for (let waits = 0; ; waits += 1) {
      let response: Response;
      try {
        response = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
          body,
        });
      } catch (error) {
        throw new GatewayError(
          `cannot reach ${this.url}: ${(error as Error).cause ?? (error as Error).message}`,
        );
      }
      const retryAfter = Number(response.headers.get('retry-after'));
      const passing = response.status === 429 || response.status === 503;
      if (!passing || !(retryAfter > 0) || waits === MAX_WAITS) return response;
      await response.body?.cancel();
      await setTimeout(Math.min(retryAfter, MAX_WAIT_SECONDS) * 1000);
    }
  }

  /** One chunk through ingestExposureEvents: one transaction on the gateway. */
  async ingestEvents(events: ExposureEventInput[]): Promise<IngestResult> {
    const data = await this.execute(IngestChunkDocument, { input: { events } });
    return data.ingestExposureEvents;
  }

  /** Completes a scan run on the gateway (completeScanRun). */
  async completeScanRun(input: CompleteScanRunInput): Promise<CompleteScanRunMutation['completeScanRun']> {
    const data = await this.execute(CompleteScanRunDocument, { input });
    return data.completeScanRun;
  }

  /** Reports a file this side could not ingest; returns the QuarantinedFile id. */
  async reportQuarantinedFile(input: QuarantineFileInput): Promise<{ id: string }> {
    const data = await this.execute(ReportQuarantinedFileDocument, { input });
    return data.quarantineFile;
  }
}
