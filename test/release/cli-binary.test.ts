// The linux-x64 single-file binary, built the way the release builds it and
// run for real: it must behave exactly like `node bin/run.js` (same output,
// same exit codes), answer to every name kubectl and krew start it under,
// ignore .env files, and contain nothing of the probe.
// Live too, against a real kube-apiserver + etcd (test/infra): the binary's
// runtime is Bun, not Node, so TLS client certificates, bearer tokens and the
// Kubernetes client's error paths are checked through it against Node's.
// Part of `npm test` because it is cheap (one bundle + one compile, ~5 s with
// a warm cache, plus one API server); the other five platforms, krew and
// kubectl are in the smoke suite (npm run release:smoke). Needs root and the
// binaries of test/infra/build-k8s.sh, like the other API-server tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bundleInputs, pluginInputs, probeInputs } from '../../scripts/release/bundle.js';
import { build, version } from '../../scripts/release/build.js';
import type { BuildResult } from '../../scripts/release/build.js';
import { target } from '../../scripts/release/targets.js';
import { startApiServer } from '../infra/apiserver.js';
import type { ApiServerHandle } from '../infra/apiserver.js';
import { CertificateAuthority } from '../infra/pki.js';
import { ensureNamespace } from '../infra/simulated.js';
import { cluster, pod, pvc } from '../helpers/fixtures.js';
import {
  REPO,
  cleanEnv,
  linkFarm,
  runBin,
  runNode,
  tempDir,
  withoutRuntime,
  writeFleetSnapshot,
  writeSampleBundle,
} from './helpers.js';

const tmp = tempDir('cli-binary');
let built: BuildResult;
let bin: string;
let names: Record<string, string>;
let sample: { tgz: string; json: string };

beforeAll(async () => {
  // dist/ is current: `npm test` type-checks (tsc -b) before vitest runs.
  built = await build({ targets: [target('linux-x64')], programs: ['cli'], out: join(tmp.dir, 'build'), tsc: false });
  bin = built.binaries[0]?.file as string;
  names = linkFarm(join(tmp.dir, 'path'), bin, ['kubectl-cnpg', 'kubectl-cnpg-disk', 'kubectl-cnpg_disk']);
  sample = await writeSampleBundle(tmp.dir);
}, 300_000);
afterAll(() => tmp.remove());

describe('kubectl-cnpg for linux-x64', { timeout: 90_000 }, () => {
  it('is an x86-64 ELF executable of a sane size', () => {
    const b = built.binaries[0];
    expect(b?.bytes).toBeGreaterThan(40 * 2 ** 20);
    expect(b?.bytes).toBeLessThan(250 * 2 ** 20);
  });

  it('prints the same --help as the Node CLI, with its version', async () => {
    const [b, n] = await Promise.all([runBin(bin, ['--help']), runNode(['--help'])]);
    expect(b.status).toBe(0);
    expect(b.stdout).toContain(`kubectl-cnpg-disk ${version()} (bun `);
    expect(b.stdout).toMatch(/TOPICS[\s\S]*disk/);
    expect(withoutRuntime(b.stdout)).toBe(withoutRuntime(n.stdout));
  });

  it('--version names our version and the runtime that runs it (Bun), not its Node-compatibility version', async () => {
    const [b, n] = await Promise.all([runBin(bin, ['--version']), runNode(['--version'])]);
    expect(b.status).toBe(0);
    expect(b.stdout.trim()).toMatch(/^kubectl-cnpg-disk \d+\.\d+\.\d+ \(bun \d+\.\d+\.\d+, linux-x64\)$/);
    expect(b.stdout).toContain(`kubectl-cnpg-disk ${version()} (bun `);
    expect(b.stdout).not.toContain('node');
    expect(n.stdout.trim()).toBe(`kubectl-cnpg-disk ${version()} (node ${process.version}, linux-x64)`);
  });

  it('prints the same help for disk status', async () => {
    const [b, n] = await Promise.all([
      runBin(bin, ['disk', 'status', '--help']),
      runNode(['disk', 'status', '--help']),
    ]);
    expect(b.status).toBe(0);
    expect(b.stdout).toContain('--from-bundle');
    expect(b.stdout).toBe(n.stdout);
  });

  it('reads a support bundle offline with the same JSON and exit code as the Node CLI', async () => {
    for (const file of [sample.tgz, sample.json]) {
      const args = ['disk', 'status', '--from-bundle', file, '-o', 'json'];
      const [b, n] = await Promise.all([runBin(bin, args), runNode(args)]);
      expect(b.stderr).toBe(n.stderr);
      expect(b.status).toBe(n.status);
      expect(b.stdout).toBe(n.stdout);
      expect(b.stdout).toContain('"ledger"');
      expect(b.stdout).toContain('"orders"');
    }
  });

  it('reads every sample bundle of examples/ like the Node CLI (disk status, table and JSON)', async () => {
    const examples = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.tar.gz'));
    expect(examples.length).toBeGreaterThan(0);
    for (const f of examples) {
      for (const extra of [[], ['-o', 'json']]) {
        const args = ['disk', 'status', '--from-bundle', join(REPO, 'examples', f), ...extra];
        const b = await runBin(bin, args);
        const n = await runNode(args);
        expect(b.status, `${f} ${b.stderr}`).toBe(n.status);
        expect(b.stdout, f).toBe(n.stdout);
        expect(b.stderr, f).toBe(n.stderr);
        expect(b.stdout.length, f).toBeGreaterThan(100);
      }
    }
  }, 180_000);

  it('writes a document of megabytes in full to a slow pipe, though it exits non-zero', async () => {
    // Bun's process.exit dropped what the pipe had not taken: `-o json | jq`
    // on a fleet got 128 KiB of 2.7 MB. Here the reader waits a second
    // before it reads anything, so the pipe is full when the CLI is done.
    const file = writeFleetSnapshot(tmp.dir, 400);
    const args = ['disk', 'status', '--from-bundle', file, '-o', 'json'];
    const slow = await new Promise<{ status: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(bin, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.on('error', reject);
      setTimeout(() => child.stdout.on('data', (c: Buffer) => chunks.push(c)), 1000);
      child.on('close', (status) => resolve({ status, stdout: Buffer.concat(chunks).toString() }));
    });
    const n = await runNode(args);
    expect(n.status).toBe(2);
    expect(n.stdout.length).toBeGreaterThan(1_000_000);
    expect(slow.status).toBe(2);
    expect(slow.stdout.length).toBe(n.stdout.length);
    expect(slow.stdout).toBe(n.stdout);
  });

  it('renders the table for the bundle like the Node CLI', async () => {
    const args = ['disk', 'status', '--from-bundle', sample.tgz];
    const [b, n] = await Promise.all([runBin(bin, args), runNode(args)]);
    expect(b.status).toBe(n.status);
    expect(b.stdout).toBe(n.stdout);
    expect(b.stdout).toMatch(/ledger/);
  });

  it('fails on bad input with the same one-line error and exit code as the Node CLI', async () => {
    for (const args of [
      ['disk', 'status', '--from-bundle', join(tmp.dir, 'missing.tar.gz')],
      ['disk', 'status', '--from-bundle', sample.tgz, '-o', 'xml'],
      ['disk', 'nonsense'],
    ]) {
      const [b, n] = await Promise.all([runBin(bin, args), runNode(args)]);
      expect(b.status, args.join(' ')).not.toBe(0);
      expect(b.status, args.join(' ')).toBe(n.status);
      expect(b.stderr, args.join(' ')).toBe(n.stderr);
      expect(b.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('answers to kubectl-cnpg-disk and krew\'s kubectl-cnpg_disk as if "disk" had been typed', async () => {
    const reference = await runBin(names['kubectl-cnpg'] as string, ['disk', 'status', '--help']);
    expect(reference.status).toBe(0);
    for (const name of ['kubectl-cnpg-disk', 'kubectl-cnpg_disk']) {
      const r = await runBin(names[name] as string, ['status', '--help']);
      expect(r.status, name).toBe(0);
      expect(r.stdout, name).toBe(reference.stdout);
    }
  });

  it('ignores a .env file in the working directory (Bun would load it by default)', async () => {
    const cwd = join(tmp.dir, 'with-dotenv');
    linkFarm(cwd, bin, []);
    writeFileSync(join(cwd, '.env'), 'DEBUG=*\n');
    const plain = await runBin(bin, ['--help'], { cwd });
    expect(plain.status).toBe(0);
    expect(plain.stderr).toBe('');
    // The same variable really set does print oclif's debug lines: the check above can fail.
    const debug = await runBin(bin, ['--help'], { cwd, env: cleanEnv({ DEBUG: '*' }) });
    expect(debug.stderr).not.toBe('');
  });

  it('holds nothing of the probe: no packages/probe module, no pg driver', () => {
    const inputs = bundleInputs(built.bundles.cli as string);
    expect(inputs.length).toBeGreaterThan(100);
    expect(inputs.some((i) => i.startsWith('dist/commands/'))).toBe(true);
    expect(probeInputs(inputs)).toEqual([]);
    expect(pluginInputs(inputs)).toEqual([]);
  });
});

describe('kubectl-cnpg for linux-x64, live against a real kube-apiserver', { timeout: 90_000 }, () => {
  let api: ApiServerHandle;
  beforeAll(async () => {
    api = await startApiServer({ tokenUsers: [{ user: 'token-admin', groups: ['system:masters'] }] });
    await ensureNamespace(api, 'db');
    const create = async (path: string, obj: Record<string, unknown>) => {
      // As a client creates them: no status, no resourceVersion.
      const { status: _status, ...body } = obj;
      delete (body.metadata as Record<string, unknown>).resourceVersion;
      const r = await api.request('POST', path, { body });
      if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.body}`);
    };
    await create(
      '/apis/postgresql.cnpg.io/v1/namespaces/db/clusters',
      cluster({ name: 'orders', instances: 2, walStorage: true }),
    );
    for (const i of [1, 2]) {
      // Pods on a node that does not exist: exec and the kubelet summary fail, as they do for
      // an unreachable node; the command must report it the same way under both runtimes.
      await create('/api/v1/namespaces/db/pods', pod({ name: `orders-${i}`, cluster: 'orders', node: 'gone-node' }));
      await create(
        '/api/v1/namespaces/db/persistentvolumeclaims',
        pvc({ cluster: 'orders', instance: `orders-${i}`, role: 'PG_DATA', request: '10Gi' }),
      );
      await create(
        '/api/v1/namespaces/db/persistentvolumeclaims',
        pvc({ cluster: 'orders', instance: `orders-${i}`, role: 'PG_WAL', request: '2Gi' }),
      );
    }
  }, 240_000);
  afterAll(async () => {
    await api?.stop();
  });

  // diagnose prints its document even when nothing can be measured (then exit 3);
  // disk status refuses with exit 3 and no document.
  const args = (kubeconfig: string) => [
    'diagnose',
    '-A',
    '-o',
    'json',
    '--kubeconfig',
    kubeconfig,
    '--request-timeout',
    '10s',
  ];
  const times = (s: string) => s.replace(/"(collectedAt|observedAt)": "[^"]+"/g, '"$1": "<time>"');
  // One after the other: the two runs must not slow each other into a timeout.
  const both = async (a: string[]) => {
    const b = await runBin(bin, a);
    const n = await runNode(a);
    return { b, n };
  };

  it('with a client certificate: the same document and exit code as Node', async () => {
    const { b, n } = await both(args(api.kubeconfigPath));
    expect(b.status, b.stderr).toBe(n.status);
    expect(times(b.stdout)).toBe(times(n.stdout));
    expect(b.stdout).toContain('"orders"');
    expect(b.stderr).toBe(n.stderr);
  });

  it('with a bearer token: the same document as Node', async () => {
    const { b, n } = await both(args(await api.kubeconfigForToken('token-admin')));
    expect(b.status, b.stderr).toBe(n.status);
    expect(times(b.stdout)).toBe(times(n.stdout));
    expect(b.stdout).toContain('"orders"');
  });

  it('without any permission: the same one-line error and exit code as Node', async () => {
    const { b, n } = await both(args(await api.kubeconfigFor('nobody')));
    expect(b.status).not.toBe(0);
    expect(b.status).toBe(n.status);
    expect(b.stderr).toBe(n.stderr);
    expect(b.stderr).not.toMatch(/\n\s+at /);
  });

  // The cause after the first colon comes from the runtime's HTTP client (Node:
  // "request to … failed, reason: connect ECONNREFUSED …"; Bun: "ECONNREFUSED:
  // Unable to connect …"): the message we write, the hint and the exit code must match.
  const ours = (stderr: string) => stderr.replace(/^(error: [^:]+:[^:]*:).*$/m, '$1 <cause>');

  it('an API server that is not there: the same error, hint and exit code as Node', async () => {
    const gone = join(tmp.dir, 'gone.kubeconfig');
    writeFileSync(gone, readFileSync(api.kubeconfigPath, 'utf8').replace(api.url, 'https://127.0.0.1:9'));
    const { b, n } = await both(args(gone));
    expect(b.status).not.toBe(0);
    expect(b.status).toBe(n.status);
    expect(b.stderr).toMatch(/^error: cannot reach the API server at https:\/\/127\.0\.0\.1:9: \S/);
    expect(ours(b.stderr)).toBe(ours(n.stderr));
    expect(b.stderr.trim().split('\n')).toHaveLength(2); // the error and its hint
  });

  it('a server certificate from another CA is refused, with the same exit code as Node', async () => {
    const other = await CertificateAuthority.create(mkdtempSync(join(tmp.dir, 'ca-')), 'someone-else');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const wrong = join(tmp.dir, 'wrong-ca.kubeconfig');
    writeFileSync(
      wrong,
      readFileSync(api.kubeconfigPath, 'utf8').replace(
        /certificate-authority-data: \S+/,
        `certificate-authority-data: ${b64(other.certPem)}`,
      ),
    );
    const { b, n } = await both(args(wrong));
    expect(n.status).not.toBe(0);
    expect(b.status).toBe(n.status);
    expect(b.stdout).toBe('');
    expect(b.stderr).not.toMatch(/\n\s+at /);
    expect(ours(b.stderr)).toBe(ours(n.stderr));
  });
});

describe('probeInputs', () => {
  it('flags the probe package and the PostgreSQL driver, and nothing else', () => {
    expect(
      probeInputs([
        'packages/probe/dist/sql.js',
        'node_modules/pg/lib/client.js',
        'node_modules/pg-protocol/dist/parser.js',
        'node_modules/pgpass/lib/index.js',
        'node_modules/postgres-array/index.js',
        'node_modules/@cnpg-disk/probe/dist/index.js',
        'packages/core/dist/engine.js',
        'node_modules/@kubernetes/client-node/dist/index.js',
        'dist/kube/exec.js',
        'node_modules/pgp-utils/index.js',
      ]),
    ).toEqual([
      'packages/probe/dist/sql.js',
      'node_modules/pg/lib/client.js',
      'node_modules/pg-protocol/dist/parser.js',
      'node_modules/pgpass/lib/index.js',
      'node_modules/postgres-array/index.js',
      'node_modules/@cnpg-disk/probe/dist/index.js',
    ]);
  });
});

describe('pluginInputs', () => {
  it('flags the plugin package, gRPC and the protobuf runtime, and nothing else', () => {
    expect(
      pluginInputs([
        'packages/plugin/dist/servers.js',
        'node_modules/@cnpg-disk/plugin/dist/index.js',
        'node_modules/@grpc/grpc-js/build/src/server.js',
        'node_modules/@grpc/proto-loader/build/src/index.js',
        'node_modules/protobufjs/src/root.js',
        'node_modules/@protobufjs/aspromise/index.js',
        'packages/core/dist/plugin-parameters.js',
        'dist/install/plugin-manifests.js',
        'node_modules/grpc-like/index.js',
      ]),
    ).toEqual([
      'packages/plugin/dist/servers.js',
      'node_modules/@cnpg-disk/plugin/dist/index.js',
      'node_modules/@grpc/grpc-js/build/src/server.js',
      'node_modules/@grpc/proto-loader/build/src/index.js',
      'node_modules/protobufjs/src/root.js',
      'node_modules/@protobufjs/aspromise/index.js',
    ]);
  });
});
