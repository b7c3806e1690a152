/* eslint-disable */
import * as types from './graphql.ts';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query DashboardOffices {\n  offices {\n    id\n    name\n    lastIngestAt\n    openExposures\n  }\n}\n\nquery DashboardSummary($filter: ExposureFilter) {\n  exposureSummary(filter: $filter) {\n    total\n    open\n    closed\n    info\n    low\n    medium\n    high\n    critical\n  }\n}\n\nquery DashboardExposures($filter: ExposureFilter, $orderBy: ExposureOrder, $first: Int, $after: String) {\n  exposures(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        officeId\n        exposureId\n        exposureClass\n        status\n        severity\n        riskScore\n        dstIp\n        dstPort\n        protocol\n        assetHostname\n        firstSeen\n        lastSeen\n      }\n    }\n  }\n}\n\nquery DashboardEvents($filter: EventFilter, $first: Int, $after: String) {\n  events(filter: $filter, first: $first, after: $after) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        eventId\n        timestamp\n        officeId\n        exposureId\n        exposureClass\n        severity\n        status\n        eventAction\n      }\n    }\n  }\n}": typeof types.DashboardOfficesDocument,
    "mutation IngestChunk($input: IngestExposureEventsInput!) {\n  ingestExposureEvents(input: $input) {\n    eventsInserted\n    eventsDuplicate\n    exposuresInserted\n    exposuresUpdated\n    totalProcessed\n    rejected {\n      index\n      field\n      code\n      message\n    }\n  }\n}\n\nmutation ReportQuarantinedFile($input: QuarantineFileInput!) {\n  quarantineFile(input: $input) {\n    id\n    status\n  }\n}\n\nmutation CompleteScanRun($input: CompleteScanRunInput!) {\n  completeScanRun(input: $input) {\n    officeId\n    scanRunId\n    scannerType\n    startedAt\n    completedAt\n    eventsObserved\n    exposuresObserved\n    exposuresNew\n    exposuresReopened\n    exposuresClosed\n  }\n}": typeof types.IngestChunkDocument,
};
const documents: Documents = {
    "query DashboardOffices {\n  offices {\n    id\n    name\n    lastIngestAt\n    openExposures\n  }\n}\n\nquery DashboardSummary($filter: ExposureFilter) {\n  exposureSummary(filter: $filter) {\n    total\n    open\n    closed\n    info\n    low\n    medium\n    high\n    critical\n  }\n}\n\nquery DashboardExposures($filter: ExposureFilter, $orderBy: ExposureOrder, $first: Int, $after: String) {\n  exposures(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        officeId\n        exposureId\n        exposureClass\n        status\n        severity\n        riskScore\n        dstIp\n        dstPort\n        protocol\n        assetHostname\n        firstSeen\n        lastSeen\n      }\n    }\n  }\n}\n\nquery DashboardEvents($filter: EventFilter, $first: Int, $after: String) {\n  events(filter: $filter, first: $first, after: $after) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        eventId\n        timestamp\n        officeId\n        exposureId\n        exposureClass\n        severity\n        status\n        eventAction\n      }\n    }\n  }\n}": types.DashboardOfficesDocument,
    "mutation IngestChunk($input: IngestExposureEventsInput!) {\n  ingestExposureEvents(input: $input) {\n    eventsInserted\n    eventsDuplicate\n    exposuresInserted\n    exposuresUpdated\n    totalProcessed\n    rejected {\n      index\n      field\n      code\n      message\n    }\n  }\n}\n\nmutation ReportQuarantinedFile($input: QuarantineFileInput!) {\n  quarantineFile(input: $input) {\n    id\n    status\n  }\n}\n\nmutation CompleteScanRun($input: CompleteScanRunInput!) {\n  completeScanRun(input: $input) {\n    officeId\n    scanRunId\n    scannerType\n    startedAt\n    completedAt\n    eventsObserved\n    exposuresObserved\n    exposuresNew\n    exposuresReopened\n    exposuresClosed\n  }\n}": types.IngestChunkDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DashboardOffices {\n  offices {\n    id\n    name\n    lastIngestAt\n    openExposures\n  }\n}\n\nquery DashboardSummary($filter: ExposureFilter) {\n  exposureSummary(filter: $filter) {\n    total\n    open\n    closed\n    info\n    low\n    medium\n    high\n    critical\n  }\n}\n\nquery DashboardExposures($filter: ExposureFilter, $orderBy: ExposureOrder, $first: Int, $after: String) {\n  exposures(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        officeId\n        exposureId\n        exposureClass\n        status\n        severity\n        riskScore\n        dstIp\n        dstPort\n        protocol\n        assetHostname\n        firstSeen\n        lastSeen\n      }\n    }\n  }\n}\n\nquery DashboardEvents($filter: EventFilter, $first: Int, $after: String) {\n  events(filter: $filter, first: $first, after: $after) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        eventId\n        timestamp\n        officeId\n        exposureId\n        exposureClass\n        severity\n        status\n        eventAction\n      }\n    }\n  }\n}"): (typeof documents)["query DashboardOffices {\n  offices {\n    id\n    name\n    lastIngestAt\n    openExposures\n  }\n}\n\nquery DashboardSummary($filter: ExposureFilter) {\n  exposureSummary(filter: $filter) {\n    total\n    open\n    closed\n    info\n    low\n    medium\n    high\n    critical\n  }\n}\n\nquery DashboardExposures($filter: ExposureFilter, $orderBy: ExposureOrder, $first: Int, $after: String) {\n  exposures(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        officeId\n        exposureId\n        exposureClass\n        status\n        severity\n        riskScore\n        dstIp\n        dstPort\n        protocol\n        assetHostname\n        firstSeen\n        lastSeen\n      }\n    }\n  }\n}\n\nquery DashboardEvents($filter: EventFilter, $first: Int, $after: String) {\n  events(filter: $filter, first: $first, after: $after) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        eventId\n        timestamp\n        officeId\n        exposureId\n        exposureClass\n        severity\n        status\n        eventAction\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation IngestChunk($input: IngestExposureEventsInput!) {\n  ingestExposureEvents(input: $input) {\n    eventsInserted\n    eventsDuplicate\n    exposuresInserted\n    exposuresUpdated\n    totalProcessed\n    rejected {\n      index\n      field\n      code\n      message\n    }\n  }\n}\n\nmutation ReportQuarantinedFile($input: QuarantineFileInput!) {\n  quarantineFile(input: $input) {\n    id\n    status\n  }\n}\n\nmutation CompleteScanRun($input: CompleteScanRunInput!) {\n  completeScanRun(input: $input) {\n    officeId\n    scanRunId\n    scannerType\n    startedAt\n    completedAt\n    eventsObserved\n    exposuresObserved\n    exposuresNew\n    exposuresReopened\n    exposuresClosed\n  }\n}"): (typeof documents)["mutation IngestChunk($input: IngestExposureEventsInput!) {\n  ingestExposureEvents(input: $input) {\n    eventsInserted\n    eventsDuplicate\n    exposuresInserted\n    exposuresUpdated\n    totalProcessed\n    rejected {\n      index\n      field\n      code\n      message\n    }\n  }\n}\n\nmutation ReportQuarantinedFile($input: QuarantineFileInput!) {\n  quarantineFile(input: $input) {\n    id\n    status\n  }\n}\n\nmutation CompleteScanRun($input: CompleteScanRunInput!) {\n  completeScanRun(input: $input) {\n    officeId\n    scanRunId\n    scannerType\n    startedAt\n    completedAt\n    eventsObserved\n    exposuresObserved\n    exposuresNew\n    exposuresReopened\n    exposuresClosed\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;