/**
 * Explicit command list (oclif "explicit" discovery): lets the CLI be bundled
 * into a single file, and starts faster than scanning directories.
 */
import DiskStatus from './disk/status.js';

export const COMMANDS = {
  'disk:status': DiskStatus,
};
