#!/usr/bin/env node
/** The cnpg-disk-plugin program (the same entry point as the probe's). */
import { runProgram } from '@cnpg-disk/probe';
import { EXIT, main } from './cli.js';

await runProgram('cnpg-disk-plugin', main, { ok: EXIT.ok, crashed: EXIT.cannotRun });
