/**
 * @cnpg-disk/probe — Linux-only: measures what only the database host can see
 * (statfs of the mounted volumes, pg_wal/archive_status, SQL health queries)
 * and publishes it as a ProbeReport (JSON) or Prometheus text. Never imported
 * by the CLI.
 */
export * from './statfs.js';
export * from './mounts.js';
export * from './walfs.js';
export * from './sql.js';
export * from './probe.js';
export * from './metrics.js';
export * from './resize.js';
export * from './server.js';
export { EXIT, USAGE, main, measure, parseProbeArgs, type CliOptions, type Io } from './cli.js';
export { runProgram, type ProgramMain, type ProgramResult } from './run-program.js';
