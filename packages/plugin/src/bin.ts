#!/usr/bin/env node
/** The cnpg-disk-plugin program: runs main() and turns its result into the process exit. */
import { EXIT, main, type Io } from './cli.js';

const io: Io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

try {
  const r = await main(process.argv.slice(2), process.env, io);
  if (r.close) {
    const close = r.close;
    const stop = (): void => {
      void close().then(() => process.exit(EXIT.ok));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } else {
    process.exitCode = r.code;
  }
} catch (err) {
  io.stderr(`cnpg-disk-plugin: ${(err as Error).message ?? String(err)}\n`);
  process.exitCode = EXIT.cannotRun;
}
