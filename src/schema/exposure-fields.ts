/**
 * The GraphQL side of EXPOSURE_FIELDS: the type and descriptions of each field an event reports about its
 * exposure, shared by Exposure (the state) and ExposureEvent (the event).
 */
import type { FieldRef, OutputShape } from '@pothos/core';
import { EXPOSURE_FIELDS, type ExposureField, type ExposureFieldValues, FIELD_NAMES } from '../domain.ts';
import type { builder } from './builder.ts';
import { ExposureStatus, Severity } from './enums.ts';

type Types = typeof builder.$inferSchemaTypes;

/** Which type a field is on: Exposure, the current state, or ExposureEvent, one event. */
export type ExposureFieldSide = 'state' | 'event';

type GraphQLType =
  | 'String'
  | 'Float'
  | 'Int'
  | 'IPAddress'
  | 'JSON'
  | 'DateTime'
  | typeof ExposureStatus
  | typeof Severity;

/** The GraphQL types that can serialize every value of a field: the check t.expose makes for a literal name. */
type GraphQLTypeFor<Value, T extends GraphQLType = GraphQLType> = T extends GraphQLType
  ? [Value] extends [OutputShape<Types, T>]
    ? T
    : never
  : never;

interface GraphQLField<F extends ExposureField> {
  type: GraphQLTypeFor<NonNullable<ExposureFieldValues[F]>>;
  /** One description for both types, or one for each side where they say different things. */
  description: string | Record<ExposureFieldSide, string>;
}

const GRAPHQL_FIELDS = {
  exposureClass: {
    type: 'String',
    description: {
      state: 'What kind of exposure it is, e.g. open_port, weak_tls, expired_certificate.',
      event: 'What kind of exposure, e.g. open_port, weak_tls, expired_certificate.',
    },
  },
  status: {
    type: ExposureStatus,
    description: { state: 'Status from the latest event.', event: 'Status reported by this event.' },
  },
  severity: {
    type: Severity,
    description: { state: 'Severity from the latest event.', event: 'Severity reported by this event.' },
  },
  eventAction: {
    type: 'String',
    description: { state: 'Action of the latest event, e.g. detected.', event: 'e.g. detected, resolved.' },
  },
  eventKind: {
    type: 'String',
    description: { state: 'Kind of the latest event.', event: 'Kind of the event.' },
  },
  assetId: { type: 'String', description: 'The affected asset.' },
  assetHostname: { type: 'String', description: 'Host name of the affected asset.' },
  assetIp: { type: 'IPAddress', description: 'IP address of the affected asset.' },
  riskScore: { type: 'Float', description: 'Risk score, 0..100.' },
  confidence: { type: 'Float', description: 'How sure the scanner is, 0..1.' },
  dstIp: { type: 'IPAddress', description: 'Destination IP address.' },
  dstPort: { type: 'Int', description: 'Destination port, 0..65535.' },
  protocol: { type: 'String', description: 'Transport protocol, e.g. tcp.' },
  serviceName: {
    type: 'String',
    description: { state: 'Service found listening, e.g. rdp.', event: 'Service found listening.' },
  },
  serviceProduct: { type: 'String', description: 'Product behind the service.' },
  serviceVersion: { type: 'String', description: 'Version of that product.' },
  resource: { type: 'JSON', description: 'Scanner-specific details of the affected resource.' },
  dispositionStatus: {
    type: 'String',
    description: { state: 'Triage decision, e.g. accepted_risk.', event: 'Triage decision.' },
  },
  dispositionReason: { type: 'String', description: 'Why that decision was made.' },
  dispositionExpiresAt: {
    type: 'DateTime',
    description: {
      state: 'When the triage decision lapses; null: it does not.',
      event: 'When the decision lapses; null: it does not.',
    },
  },
  scannerType: {
    type: 'String',
    description: {
      state:
        'The scanner that last reported it, e.g. nmap: its completed scan runs close it when they miss it.',
      event: 'The scanner that produced it.',
    },
  },
} satisfies { [F in ExposureField]: GraphQLField<F> };

interface ExposeOptions {
  type: GraphQLType;
  nullable: boolean;
  description: string;
}

/** The fields of EXPOSURE_FIELDS on Exposure or ExposureEvent; non-null where every event has them. */
export function exposureFields<Shape extends ExposureFieldValues>(
  t: PothosSchemaTypes.ObjectFieldBuilder<Types, Shape>,
  side: ExposureFieldSide,
): Record<string, FieldRef<Types, unknown, 'Object'>> {
  // Pothos matches a field's type to its value only for a literal name; GraphQLField<F> above has already
  // matched every name, so expose is called through a signature that takes any of them.
  const expose = t.expose.bind(t) as (
    name: ExposureField,
    options: ExposeOptions,
  ) => FieldRef<Types, unknown, 'Object'>;
  const entries = FIELD_NAMES.map((name) => {
    const { type, description } = GRAPHQL_FIELDS[name];
    return [
      name,
      expose(name, {
        type,
        nullable: !('required' in EXPOSURE_FIELDS[name]),
        description: typeof description === 'string' ? description : description[side],
      }),
    ] as const;
  });
  return Object.fromEntries(entries);
}
