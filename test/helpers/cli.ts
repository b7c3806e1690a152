/** Runs the exposure-gateway command line as a child process, against a test database. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { DatabaseConfig } from '../../src/config.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = path.resolve('bin/exposure-gateway.js');

/** The environment that points the CLI at the database. */
export function databaseEnv(config: DatabaseConfig): Record<string, string> {
  return config.engine === 'duckdb'
    ? { DB_TYPE: 'duckdb', DB_PATH: config.duckdbPath }
    : { DB_TYPE: 'postgres', DATABASE_URL: config.postgresUrl ?? '' };
}

export function runCli(args: string[], config: DatabaseConfig): Promise<CliResult> {
  const { DB_TYPE: _type, DB_PATH: _path, DATABASE_URL: _url, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...inherited, ...databaseEnv(config), LOG_LEVEL: 'silent' }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
