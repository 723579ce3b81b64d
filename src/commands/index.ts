/**
 * Explicit command list (oclif "explicit" discovery): lets the CLI be bundled
 * into a single file, and starts faster than scanning directories.
 *
 * Start-up rule: a command file imports at the top only what its flags and
 * help need (@oclif/core, cli/base, cli/flags); everything its run needs (the
 * app, the dependency bag, hence @kubernetes/client-node, ora, tar) is
 * imported inside run(). oclif loads this index, so every command file, to
 * run any one command, and without oclif.manifest.json (`npm run build`
 * writes it) for --help too. See "Start-up" in docs/distribution.md.
 */
import DiskStatus from './disk/status.js';
import DiskResize from './disk/resize.js';
import DiskInstall from './disk/install.js';
import DiskAutoresize from './disk/autoresize.js';
import DiskPolicyValidate from './disk/policy/validate.js';
import DiskSimulate from './disk/simulate.js';
import WalHealth from './wal/health.js';
import Diagnose from './diagnose.js';
import Complete from './complete.js';

export const COMMANDS = {
  'disk:status': DiskStatus,
  'disk:resize': DiskResize,
  'disk:install': DiskInstall,
  'disk:autoresize': DiskAutoresize,
  'disk:policy:validate': DiskPolicyValidate,
  'disk:simulate': DiskSimulate,
  'wal:health': WalHealth,
  diagnose: Diagnose,
  __complete: Complete,
};
