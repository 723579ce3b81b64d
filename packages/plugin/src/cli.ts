/**
 * cnpg-disk-plugin: the CNPG-I plugin's program.
 *
 *   operator     the operator side (Deployment): gRPC over mutual TLS
 *   instance     the sidecar: CNPG-I on the unix socket, the probe's /status and /metrics over HTTP
 *   healthcheck  exit 0 when the sidecar's socket accepts a connection (its startup probe)
 *
 * parse argv → options (pure) → run. The only place that sets the exit code.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { PLUGIN_NAME } from '@cnpg-disk/core';
import {
  InputError,
  loadResizeInputs,
  measure,
  parseListen,
  parseProbeArgs,
  type CliOptions as ProbeCliOptions,
  type ResizeInputs,
} from '@cnpg-disk/probe';
import { DEFAULT_SIDECAR_RESOURCES, socketPath, type SidecarOptions } from './lifecycle.js';
import { loadProtocol, protosDir } from './protocol.js';
import { startInstanceServer, startOperatorServer, type Running } from './servers.js';
import { PLUGIN_VERSION, type Log } from './services.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, cannotRun: 3 } as const;

export const USAGE = `Usage: cnpg-disk-plugin <operator|instance|healthcheck> [flags]
The CNPG-I plugin ${PLUGIN_NAME}: injects the disk probe as a sidecar into
CloudNativePG instance pods, serves its figures on the instance's /metrics, and
validates the resize policy given as the plugin's parameters on a Cluster.

operator (the Deployment; gRPC with mutual TLS 1.3):
  --listen HOST:PORT     address                                   [0.0.0.0:9090]
  --server-cert FILE     our certificate (PEM)                     [/tls/server/tls.crt]
  --server-key FILE      its key (PEM)                             [/tls/server/tls.key]
  --client-ca FILE       what the operator's client certificate must chain to
                         (PEM)                                     [/tls/client/tls.crt]
  --sidecar-image IMAGE  image of the sidecar                      [env SIDECAR_IMAGE]
  --sidecar-resources JSON  the sidecar's resources                [${JSON.stringify(DEFAULT_SIDECAR_RESOURCES)}]

instance (the sidecar; plain gRPC on a unix socket):
  --socket PATH          the socket the instance manager dials     [${socketPath()}]
  any flag of cnpg-disk-probe serve (--listen for /status and /metrics, --cache-ttl,
  volumes, SQL), see cnpg-disk-probe --help

healthcheck:
  --socket PATH          the socket to try                         [${socketPath()}]

  -h, --help             this help
  --version              the version
Exit codes: 0 ok; 1 healthcheck failed; 2 bad usage; 3 could not run.
`;

export type PluginCommand =
  | { command: 'help' }
  | { command: 'version' }
  | {
      command: 'operator';
      listen: { host: string; port: number };
      serverCert: string;
      serverKey: string;
      clientCa: string;
      sidecar: SidecarOptions;
    }
  | { command: 'instance'; socket: string; probe: ProbeCliOptions }
  | { command: 'healthcheck'; socket: string };

/** Takes `--socket PATH` / `--socket=PATH` out of argv (the rest goes to the probe's parser). */
function takeSocket(argv: string[]): { socket: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let socket: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--socket') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new InputError('--socket needs a path');
      socket = v;
      i++;
    } else if (a.startsWith('--socket=')) {
      socket = a.slice('--socket='.length);
    } else {
      rest.push(a);
    }
  }
  if (socket === '') throw new InputError('--socket must not be empty');
  return { socket, rest };
}

/** argv (without node and script) + environment → a command. Throws InputError with one line. */
export function parsePluginArgs(argv: string[], env: NodeJS.ProcessEnv = {}): PluginCommand {
  const [command, ...args] = argv;
  if (command === undefined || command === '-h' || command === '--help') return { command: 'help' };
  if (command === '--version') return { command: 'version' };
  if (command === 'instance') {
    const { socket, rest } = takeSocket(args);
    return { command: 'instance', socket: socket ?? socketPath(), probe: parseProbeArgs(['serve', ...rest], env) };
  }
  if (command === 'healthcheck') {
    const { socket, rest } = takeSocket(args);
    if (rest.length > 0) throw new InputError(`unexpected argument ${JSON.stringify(rest[0])}`);
    return { command: 'healthcheck', socket: socket ?? socketPath() };
  }
  if (command !== 'operator') {
    throw new InputError(`unknown command ${JSON.stringify(command)}: use operator, instance or healthcheck`);
  }
  let v;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        'server-cert': { type: 'string' },
        'server-key': { type: 'string' },
        'client-ca': { type: 'string' },
        'sidecar-image': { type: 'string' },
        'sidecar-resources': { type: 'string' },
      },
    }).values;
  } catch (err) {
    throw new InputError((err as Error).message.split('\n')[0] as string);
  }
  let listen = { host: '0.0.0.0', port: 9090 };
  if (v.listen !== undefined) {
    try {
      listen = parseListen(v.listen);
    } catch (err) {
      throw new InputError((err as Error).message);
    }
  }
  const image = v['sidecar-image'] ?? env['SIDECAR_IMAGE'];
  if (!image) throw new InputError('--sidecar-image (or SIDECAR_IMAGE) is required: the image the sidecar runs');
  const sidecar: SidecarOptions = { image };
  if (v['sidecar-resources'] !== undefined) {
    let r: unknown;
    try {
      r = JSON.parse(v['sidecar-resources']);
    } catch {
      r = undefined;
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new InputError('--sidecar-resources must be a JSON object such as {"requests":{"memory":"64Mi"}}');
    }
    sidecar.resources = r as Record<string, unknown>;
  }
  return {
    command: 'operator',
    listen,
    serverCert: v['server-cert'] ?? '/tls/server/tls.crt',
    serverKey: v['server-key'] ?? '/tls/server/tls.key',
    clientCa: v['client-ca'] ?? '/tls/client/tls.crt',
    sidecar,
  };
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** One JSON line per event on stderr. */
export function jsonLog(io: Io): Log {
  return (event, fields = {}) => io.stderr(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`);
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new InputError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Tries the socket once: resolves true when it accepts a connection within timeoutMs. */
export function socketAccepts(path: string, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Runs the command; resolves to the exit code (servers resolve once they listen, with `close`). */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: Io,
): Promise<{ code: number; close?: () => Promise<void> }> {
  let cmd: PluginCommand;
  let inputs: ResizeInputs | undefined;
  try {
    cmd = parsePluginArgs(argv, env);
    if (cmd.command === 'instance' && cmd.probe.policyPath !== undefined && cmd.probe.ledgerPath !== undefined) {
      inputs = loadResizeInputs(cmd.probe.policyPath, cmd.probe.ledgerPath);
    }
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr(`cnpg-disk-plugin: ${err.message}\nRun cnpg-disk-plugin --help for usage.\n`);
      return { code: EXIT.usage };
    }
    throw err;
  }
  if (cmd.command === 'help') {
    io.stdout(USAGE);
    return { code: EXIT.ok };
  }
  if (cmd.command === 'version') {
    io.stdout(`cnpg-disk-plugin ${PLUGIN_VERSION}\n`);
    return { code: EXIT.ok };
  }
  if (cmd.command === 'healthcheck') {
    const ok = await socketAccepts(cmd.socket);
    if (!ok) io.stderr(`cnpg-disk-plugin: ${cmd.socket} does not accept connections\n`);
    return { code: ok ? EXIT.ok : EXIT.failure };
  }
  const log = jsonLog(io);
  let running: Running;
  try {
    const protocol = loadProtocol(protosDir(env));
    if (cmd.command === 'operator') {
      const tls = {
        cert: readPem(cmd.serverCert, 'the server certificate'),
        key: readPem(cmd.serverKey, 'the server key'),
        clientCa: readPem(cmd.clientCa, 'the client CA'),
      };
      running = await startOperatorServer({ protocol, ...cmd.listen, tls, sidecar: cmd.sidecar, log });
      log('listening', { side: 'operator', address: `${cmd.listen.host}:${running.port}`, tls: 'mutual, TLS 1.3' });
    } else {
      const probe = cmd.probe;
      const instance = await startInstanceServer({
        protocol,
        socket: cmd.socket,
        measure: () => measure(probe, inputs),
        status: probe.listen,
        cacheTtlMs: probe.cacheTtlMs,
        log,
      });
      running = instance;
      log('listening', {
        side: 'instance',
        socket: cmd.socket,
        status: `${probe.listen.host}:${instance.statusPort ?? probe.listen.port}`,
      });
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof InputError) {
      io.stderr(`cnpg-disk-plugin: ${e.message}\n`);
      return { code: EXIT.usage };
    }
    io.stderr(`cnpg-disk-plugin: cannot start: ${e.message.split('\n')[0] ?? String(err)}\n`);
    return { code: EXIT.cannotRun };
  }
  return { code: EXIT.ok, close: () => running.close() };
}
