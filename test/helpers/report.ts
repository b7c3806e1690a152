/** Reading the Markdown tables of a benchmark's report. */
import { expect } from 'vitest';

/**
 * The cells of the table row whose first cell is `label` (`exact`) or starts with it; the test fails
 * when there is none.
 */
export function cells(section: string, label: string, exact = false): string[] {
  const start = exact ? `| ${label} |` : `| ${label}`;
  const line = section.split('\n').find((l) => l.startsWith(start));
  expect(line, `a row for "${label}"`).toBeDefined();
  return line!
    .split('|')
    .slice(1, -1)
    .map((cell) => cell.trim());
}
