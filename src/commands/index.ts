/**
 * Explicit command list (oclif "explicit" discovery): lets the CLI be bundled
 * into a single file, and starts faster than scanning directories.
 */
import DiskStatus from './disk/status.js';
import DiskResize from './disk/resize.js';
import DiskPolicyValidate from './disk/policy/validate.js';
import WalHealth from './wal/health.js';
import Diagnose from './diagnose.js';

export const COMMANDS = {
  'disk:status': DiskStatus,
  'disk:resize': DiskResize,
  'disk:policy:validate': DiskPolicyValidate,
  'wal:health': WalHealth,
  diagnose: Diagnose,
};
