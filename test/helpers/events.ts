/** Builders of event input for tests. */
export type EventInput = Record<string, unknown>;

let sequence = 0;

/** A valid event input; fields can be overridden or removed (set to undefined). */
export function eventInput(overrides: EventInput = {}): EventInput {
  sequence += 1;
  const event: EventInput = {
    eventId: `evt-${sequence}`,
    timestamp: '2026-01-10T10:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-1',
    exposureClass: 'open_port',
    status: 'OPEN',
    severity: 'HIGH',
    dstIp: '10.0.0.5',
    dstPort: 3389,
    protocol: 'tcp',
    ...overrides,
  };
  for (const [key, value] of Object.entries(event)) if (value === undefined) delete event[key];
  return event;
}
