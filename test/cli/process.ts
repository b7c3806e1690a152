/** The exposure-gateway command line as a child process: one-shot commands and a running server. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import type { DatabaseConfig } from '../../src/config.ts';

const BIN = path.resolve('bin/exposure-gateway.js');

/** The environment without anything of the test process that would point the CLI elsewhere. */
export function cliEnv(database: DatabaseConfig | undefined, env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(DB_|DATABASE_URL|AUTH_|DEMO_MODE|PORT|HOST|PERSISTED_)/.test(name),
    ),
  );
  const db: Record<string, string> = !database
    ? {}
    : database.engine === 'duckdb'
      ? { DB_TYPE: 'duckdb', DB_PATH: database.duckdbPath }
      : { DB_TYPE: 'postgres', DATABASE_URL: database.postgresUrl ?? '' };
  return { ...inherited, ...db, ...env };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  database: DatabaseConfig | undefined,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: cliEnv(database, env), timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface ServerProcess {
  child: ChildProcess;
  /** http://host:port of the running server. */
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** The complete JSON log lines of a process's stderr so far. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Starts a long-running command on a free port and waits until its "listening" log line. */
export async function startServer(
  args: string[],
  database: DatabaseConfig | undefined,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cliEnv(database, { PORT: '0', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 60 s:\n${stderr}`)), 60_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const listening = logLines(stderr).find((line) => line.msg === 'listening');
      if (typeof listening?.url === 'string') {
        clearTimeout(timer);
        resolve(listening.url.replace(/\/graphql$/, ''));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${stderr}`));
    });
  });
  return { child, url, stdout: () => stdout, stderr: () => stderr, exited };
}
