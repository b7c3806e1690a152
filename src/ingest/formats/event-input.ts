/** Pieces of an event input that every scanner format builds the same way: instants and raw payloads. */
import { MAX_JSON_BYTES } from '../validate.ts';

/** ISO-8601 UTC of a Unix time in whole seconds as text ("1772442000"), or null when it is not one. */
export function isoFromUnixSeconds(text: string): string | null {
  if (!/^\d{1,12}$/.test(text)) return null;
  const millis = Number(text) * 1000;
  // Date stops at year 275760; validation refuses anything that far off anyway.
  if (millis > 8.64e15) return null;
  return new Date(millis).toISOString();
}

// RFC 3339 as Go writes it (nuclei): any number of fraction digits, an offset or Z.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

/** ISO-8601 UTC (milliseconds) of an RFC 3339 instant, or null when it is not a real date and time. */
export function isoFromRfc3339(text: string): string | null {
  const match = RFC3339.exec(text);
  if (!match) return null;
  const [, year, month, day, hour, minute, second, fraction = '', offset = 'Z'] = match;
  // Events keep milliseconds: the rest is cut, not rounded, so an instant never moves to a later one.
  const millis = Date.parse(
    `${year}-${month}-${day}T${hour}:${minute}:${second}.${fraction.slice(0, 3).padEnd(3, '0')}${offset.toUpperCase()}`,
  );
  if (Number.isNaN(millis)) return null;
  // Date.parse rolls a day that does not exist over (February 30 becomes March 2): refuse it instead.
  const calendarDay = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (calendarDay.getUTCMonth() + 1 !== Number(month) || calendarDay.getUTCDate() !== Number(day))
    return null;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return null;
  return new Date(millis).toISOString();
}

/**
 * A raw payload that fits the event's limit (MAX_JSON_BYTES): the whole payload when it fits, else the
 * payload without the given keys, dropped in order until it fits, with `omitted` listing them. The event
 * keeps its fields either way; only the scanner's evidence is cut.
 */
export function boundedRawPayload(
  payload: Record<string, unknown>,
  droppable: readonly string[],
): Record<string, unknown> {
  if (fits(payload)) return payload;
  const kept = { ...payload };
  const omitted: string[] = [];
  for (const key of droppable) {
    if (!(key in kept)) continue;
    delete kept[key];
    omitted.push(key);
    if (fits({ ...kept, omitted })) return { ...kept, omitted };
  }
  return { omitted: Object.keys(payload) };
}

function fits(payload: unknown): boolean {
  return Buffer.byteLength(JSON.stringify(payload)) <= MAX_JSON_BYTES;
}
