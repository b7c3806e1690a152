/** The exposure fields as the read repositories select and map them: one list, from EXPOSURE_FIELDS. */
import type { Selectable } from 'kysely';
import { EXPOSURE_FIELDS, type ExposureFieldValues, FIELD_NAMES } from '../../domain.ts';
import type { ExposureStateColumns } from '../tables.ts';

/** The column of every exposure field. */
export const FIELD_COLUMNS = FIELD_NAMES.map((f) => EXPOSURE_FIELDS[f].column);

/** DuckDB reads JSON columns back as text, PostgreSQL as values. */
export function jsonValue(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : (value ?? null);
}

/** The values of every exposure field in a row that holds their columns. */
export function fieldValues(
  row: Pick<Selectable<ExposureStateColumns>, (typeof FIELD_COLUMNS)[number]>,
): ExposureFieldValues {
  const columns = row as unknown as Record<string, unknown>;
  return Object.fromEntries(
    FIELD_NAMES.map((f) => {
      const { column, type } = EXPOSURE_FIELDS[f];
      const value = columns[column];
      if (type === 'json') return [f, jsonValue(value)];
      // Events carry timestamps as ISO text; the engines read them back as Date.
      return [f, value instanceof Date ? value.toISOString() : value];
    }),
  ) as ExposureFieldValues;
}
