/**
 * cnpg-disk-probe: parse argv → options (parseProbeArgs, pure) → run (once or
 * serve). The only place that sets the exit code.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { runProbe, reportToJson, type ProbeOptions } from './probe.js';
import { renderMetrics, type MetricsOptions } from './metrics.js';
import { InputError, loadResizeInputs, resizeMetricsFor, type ResizeInputs } from './resize.js';
import { createProbeServer, parseListen, type Measurement } from './server.js';
import { DEFAULT_PORT } from './sql.js';

export const EXIT = {
  /** The report is complete. */
  ok: 0,
  /** The report was produced, but some parts could not be measured (see its errors). */
  partial: 1,
  /** Bad flags or input files. */
  usage: 2,
  /** The command could not run (cannot listen, unexpected failure). */
  failure: 3,
} as const;

export const USAGE = `Usage: cnpg-disk-probe <once|serve> [flags]

Measures a CloudNativePG instance where its volumes are mounted: statfs of the
data, WAL and tablespace volumes, the pg_wal archive backlog, pg_stat_archiver
and replication slots (over the local socket). Read-only.

Commands:
  once                    measure once, print the ProbeReport (JSON) to stdout
  serve                   serve GET /metrics (Prometheus text) and GET /status (JSON)

Identity (labels and report fields):
  --instance NAME         instance (pod) name          [env POD_NAME, else the host name]
  --namespace NS          namespace                    [env NAMESPACE]
  --cluster NAME          cluster name                 [env CLUSTER_NAME]

Volumes:
  --root DIR              prefix for the standard CNPG mount paths   [/]
  --data PATH             data volume mount        [<root>/var/lib/postgresql/data]
  --wal PATH              WAL volume mount         [<root>/var/lib/postgresql/wal]
  --tablespaces-dir DIR   one mount per tablespace [<root>/var/lib/postgresql/tablespaces]
  --tablespace NAME=PATH  an explicit tablespace mount (repeatable; replaces the scan)
  --pgdata PATH           PGDATA                   [<data>/pgdata]
  --wal-dir PATH          the WAL directory        [<pgdata>/pg_wal]

SQL:
  --pg-host DIR           socket directory or host [env PGHOST, else /controller/run or
                          /var/run/postgresql, whichever has the socket]
  --pg-port N             port                     [env PGPORT, else ${DEFAULT_PORT}]
  --pg-user NAME          user                     [postgres]
  --pg-database NAME      database                 [postgres]
  --statement-timeout MS  per-query timeout        [5000]
  --no-sql                do not connect: filesystem facts only

Output:
  --format json|prometheus   (once) output format  [json]
  --listen HOST:PORT         (serve) address        [127.0.0.1:9188]
  --cache-ttl MS             (serve) reuse a measurement this long [5000]
  --policy FILE              policy document (JSON) } both together: adds cnpg_disk_at_limit,
  --ledger FILE              ledgers per volume (JSON) } cnpg_disk_resize_blocked, _budget_remaining

  -h, --help              this help
  --version               the version

Exit codes: 0 complete; 1 produced with errors (see "errors"); 2 bad usage; 3 could not run.
`;

export interface CliOptions {
  command: 'once' | 'serve' | 'help' | 'version';
  probe: ProbeOptions;
  format: 'json' | 'prometheus';
  listen: { host: string; port: number };
  cacheTtlMs: number;
  policyPath?: string;
  ledgerPath?: string;
}

function intFlag(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new InputError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** argv (without node and script) + environment → options. Throws InputError with one line. */
export function parseProbeArgs(argv: string[], env: NodeJS.ProcessEnv = {}): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        instance: { type: 'string' },
        namespace: { type: 'string' },
        cluster: { type: 'string' },
        root: { type: 'string' },
        data: { type: 'string' },
        wal: { type: 'string' },
        'tablespaces-dir': { type: 'string' },
        tablespace: { type: 'string', multiple: true },
        pgdata: { type: 'string' },
        'wal-dir': { type: 'string' },
        'pg-host': { type: 'string' },
        'pg-port': { type: 'string' },
        'pg-user': { type: 'string' },
        'pg-database': { type: 'string' },
        'statement-timeout': { type: 'string' },
        'no-sql': { type: 'boolean' },
        format: { type: 'string' },
        listen: { type: 'string' },
        'cache-ttl': { type: 'string' },
        policy: { type: 'string' },
        ledger: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new InputError((err as Error).message.split('\n')[0] as string);
  }
  const v = parsed.values;
  const base = { format: 'json' as const, listen: { host: '127.0.0.1', port: 9188 }, cacheTtlMs: 5000 };
  if (v.help) return { command: 'help', probe: { instance: '' }, ...base };
  if (v.version) return { command: 'version', probe: { instance: '' }, ...base };
  const [command, ...rest] = parsed.positionals;
  if (command !== 'once' && command !== 'serve') {
    throw new InputError(
      command === undefined
        ? 'missing command: once or serve'
        : `unknown command ${JSON.stringify(command)}: use once or serve`,
    );
  }
  if (rest.length > 0) throw new InputError(`unexpected argument ${JSON.stringify(rest[0])}`);

  const format = v.format ?? 'json';
  if (format !== 'json' && format !== 'prometheus') {
    throw new InputError(`--format must be json or prometheus, got ${JSON.stringify(format)}`);
  }
  if (v.format !== undefined && command !== 'once') throw new InputError('--format applies to once only');
  if ((v.listen !== undefined || v['cache-ttl'] !== undefined) && command !== 'serve') {
    throw new InputError('--listen and --cache-ttl apply to serve only');
  }
  if ((v.policy === undefined) !== (v.ledger === undefined)) {
    throw new InputError('--policy and --ledger go together (the resize metrics need both)');
  }

  let tablespaces: Record<string, string> | undefined;
  for (const t of v.tablespace ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(t);
    if (!m) throw new InputError(`--tablespace must be NAME=PATH, got ${JSON.stringify(t)}`);
    tablespaces = { ...(tablespaces ?? {}), [m[1] as string]: m[2] as string };
  }

  const instance = v.instance ?? env['POD_NAME'] ?? hostname();
  if (instance === '') throw new InputError('--instance must not be empty');
  const probe: ProbeOptions = { instance };
  const namespace = v.namespace ?? env['NAMESPACE'];
  const cluster = v.cluster ?? env['CLUSTER_NAME'];
  if (namespace) probe.namespace = namespace;
  if (cluster) probe.cluster = cluster;
  probe.mounts = {};
  if (v.root !== undefined) probe.mounts.root = v.root;
  if (v.data !== undefined) probe.mounts.dataPath = v.data;
  if (v.wal !== undefined) probe.mounts.walPath = v.wal;
  if (v['tablespaces-dir'] !== undefined) probe.mounts.tablespacesDir = v['tablespaces-dir'];
  if (tablespaces) probe.mounts.tablespaces = tablespaces;
  if (v.pgdata !== undefined) probe.pgdata = v.pgdata;
  if (v['wal-dir'] !== undefined) probe.walDir = v['wal-dir'];

  if (v['no-sql']) {
    probe.sql = false;
  } else {
    const host = v['pg-host'] ?? env['PGHOST'];
    const port = intFlag(v['pg-port'] ?? env['PGPORT'], '--pg-port', 1, 65535);
    const timeout = intFlag(v['statement-timeout'], '--statement-timeout', 1, 600_000);
    probe.sql = {
      user: v['pg-user'] ?? 'postgres',
      database: v['pg-database'] ?? 'postgres',
      ...(host ? { host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(timeout !== undefined ? { statementTimeoutMs: timeout } : {}),
    };
  }

  let listen = base.listen;
  if (v.listen !== undefined) {
    try {
      listen = parseListen(v.listen);
    } catch (err) {
      throw new InputError((err as Error).message);
    }
  }
  const out: CliOptions = {
    command,
    probe,
    format,
    listen,
    cacheTtlMs: intFlag(v['cache-ttl'], '--cache-ttl', 0, 3_600_000) ?? base.cacheTtlMs,
  };
  if (v.policy !== undefined) out.policyPath = v.policy;
  if (v.ledger !== undefined) out.ledgerPath = v.ledger;
  return out;
}

/** One measurement, with the resize figures when policy and ledger were given. */
export async function measure(opts: CliOptions, inputs?: ResizeInputs): Promise<Measurement> {
  const report = await runProbe(opts.probe);
  if (!inputs) return { report };
  const r = resizeMetricsFor(report, inputs, Date.parse(report.observedAt));
  report.errors.push(...r.errors);
  const metrics: MetricsOptions = { resize: r.metrics };
  return { report, metrics };
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const VERSION = '0.1.0';

/** Runs the command; resolves to the exit code (serve resolves once it listens, with `server`). */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: Io,
): Promise<{ code: number; close?: () => Promise<void> }> {
  let opts: CliOptions;
  let inputs: ResizeInputs | undefined;
  try {
    opts = parseProbeArgs(argv, env);
    if (opts.policyPath !== undefined && opts.ledgerPath !== undefined) {
      inputs = loadResizeInputs(opts.policyPath, opts.ledgerPath);
    }
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr(`cnpg-disk-probe: ${err.message}\nRun cnpg-disk-probe --help for usage.\n`);
      return { code: EXIT.usage };
    }
    throw err;
  }
  if (opts.command === 'help') {
    io.stdout(USAGE);
    return { code: EXIT.ok };
  }
  if (opts.command === 'version') {
    io.stdout(`cnpg-disk-probe ${VERSION}\n`);
    return { code: EXIT.ok };
  }
  if (opts.command === 'once') {
    const m = await measure(opts, inputs);
    io.stdout(opts.format === 'json' ? `${reportToJson(m.report)}\n` : renderMetrics(m.report, m.metrics));
    return { code: m.report.errors.length === 0 ? EXIT.ok : EXIT.partial };
  }
  const { server } = createProbeServer({ measure: () => measure(opts, inputs), ttlMs: opts.cacheTtlMs });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.listen.port, opts.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr(`cnpg-disk-probe: cannot listen on ${opts.listen.host}:${opts.listen.port}: ${e.code ?? e.message}\n`);
    return { code: EXIT.failure };
  }
  const addr = server.address();
  const where = typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : String(addr);
  io.stderr(`cnpg-disk-probe: serving /metrics and /status on ${where}\n`);
  return {
    code: EXIT.ok,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
