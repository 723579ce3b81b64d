#!/usr/bin/env node
/** The cnpg-disk-probe program. */
import { EXIT, main } from './cli.js';
import { runProgram } from './run-program.js';

await runProgram('cnpg-disk-probe', main, { ok: EXIT.ok, crashed: EXIT.failure });
