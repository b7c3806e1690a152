/** Structured logs: one JSON object per line on stderr, so stdout stays free for command output. */
import type { Config } from './config.ts';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

export type Logger = Record<Level, (...args: unknown[]) => void>;

function entry(level: Level, args: unknown[]): Record<string, unknown> {
  const line: Record<string, unknown> = { time: new Date().toISOString(), level };
  for (const arg of args) {
    if (typeof arg === 'string') line.msg = line.msg ? `${line.msg} ${arg}` : arg;
    else if (arg instanceof Error) Object.assign(line, { msg: line.msg ?? arg.message, error: arg.stack });
    else if (arg && typeof arg === 'object') Object.assign(line, arg);
  }
  return line;
}

/** Also yoga's logger: it reports unexpected (masked) errors through error(). */
export function createLogger(
  level: Config['logLevel'],
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const threshold = level === 'silent' ? LEVELS.length : LEVELS.indexOf(level);
  const method = (name: Level) =>
    LEVELS.indexOf(name) < threshold
      ? () => {}
      : (...args: unknown[]) => write(`${JSON.stringify(entry(name, args))}\n`);
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };
}
