/**
 * oclif `init` hook: runs after the configuration is loaded and before
 * `--version` or help is printed, so both show userAgent() (our version and
 * the real runtime) instead of oclif's `name/version platform node-vX`.
 * Declared in package.json (oclif.hooks), which is also how the single binary
 * bundles it. Imports nothing heavy: it runs on every start.
 */
import type { Hook } from '@oclif/core';
import { userAgent } from '../invocation.js';

const hook: Hook.Init = async function () {
  // Read-only in oclif's Config interface; a plain field of its Config class, which oclif reads when printing.
  (this.config as { userAgent: string }).userAgent = userAgent(this.config.name, this.config.version);
};

export default hook;
