// The in-cluster autoresizer for the end-to-end files: its image (the Linux
// single binary in a scratch image, built with buildah by
// scripts/release/image.ts and imported into the node's containerd), its
// deployment with `disk install --apply`, its /metrics through the API
// server's pod proxy, and its clean-up. Several files deploy their own
// controller, each in its own namespaces, so one scenario's policy, budget or
// ledger never leaks into another.
//
// The image is keyed by the binary's own hash: a second file in the same run
// (or a rerun with unchanged code) imports nothing and builds no image.
//
// On a cluster other than the local one (AKS...), set
// CNPG_E2E_AUTORESIZER_IMAGE to an image pushed from the release archives.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, version } from '../../../scripts/release/build.js';
import { buildImage, LOCAL_IMAGE } from '../../../scripts/release/image.js';
import { target } from '../../../scripts/release/targets.js';
import type { Cli } from './cli.js';
import { cacheDir, type E2EConfig } from './config.js';
import { exec, type Kube } from './kube.js';

export const DEPLOYMENT = 'cnpg-disk-autoresizer';
export const LEASE = 'cnpg-disk-autoresizer';
export const POD_LABEL = 'app.kubernetes.io/name=cnpg-disk-autoresizer';

async function hasImage(sock: string, image: string): Promise<boolean> {
  const r = await exec('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'ls', '-q'], { timeoutMs: 60_000 });
  return r.code === 0 && r.stdout.split('\n').includes(image);
}

/** The controller image for this code: built and imported only when the binary changed. */
export async function controllerImage(cfg: E2EConfig): Promise<string> {
  const pushed = process.env['CNPG_E2E_AUTORESIZER_IMAGE'];
  if (pushed) return pushed;
  if (!cfg.local) throw new Error('set CNPG_E2E_AUTORESIZER_IMAGE to the pushed controller image (docs/autoresize.md)');
  const tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-autoresizer-'));
  try {
    const t = target('linux-x64');
    const res = await build({ targets: [t], programs: ['cli'], out: join(tmp, 'build') });
    const bin = res.binaries[0]?.file ?? '';
    const key = createHash('sha256').update(readFileSync(bin)).digest('hex').slice(0, 12);
    // The tag carries the key: pods of an earlier file keep running the image they started with.
    const v = `${version()}-e2e.${key}`;
    const image = LOCAL_IMAGE(v);
    const sock = join(process.env['CNPG_E2E_RUN'] ?? '/run/cnpg-disk-e2e', 'containerd', 'containerd.sock');
    if (await hasImage(sock, image)) return image;
    const dir = join(cacheDir(), 'images');
    mkdirSync(dir, { recursive: true });
    const archive = join(dir, `autoresizer-${key}.oci.tar`);
    if (!existsSync(archive)) {
      await buildImage(bin, t, `${archive}.tmp`, v);
      renameSync(`${archive}.tmp`, archive);
      // One archive kept: the binary is ~100 MB and every code change makes a new one.
      for (const f of readdirSync(dir)) {
        if (f.startsWith('autoresizer-') && join(dir, f) !== archive) rmSync(join(dir, f), { force: true });
      }
    }
    const r = await exec('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'import', archive], {
      timeoutMs: 300_000,
    });
    if (r.code !== 0) throw new Error(`ctr images import ${archive}: ${r.stderr}`);
    if (!(await hasImage(sock, image))) throw new Error(`${image} is not in containerd after import`);
    return image;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface DeployOptions {
  /** The controller's namespace. */
  readonly ctrlNs: string;
  /** The one namespace it watches. */
  readonly watchNs: string;
  readonly image: string;
  readonly interval?: string;
  readonly source?: string;
  /** More `disk install` flags. */
  readonly extra?: readonly string[];
}

/** `disk install --apply`, then waits for both replicas and a Lease holder. */
export async function deployController(kube: Kube, cli: Cli, o: DeployOptions): Promise<void> {
  const install = await cli.run([
    'disk',
    'install',
    '--namespace',
    o.ctrlNs,
    '--image',
    o.image,
    '--watch-namespace',
    o.watchNs,
    '--source',
    o.source ?? 'cluster-status,pod-proxy,kubelet-summary',
    '--interval',
    o.interval ?? '10s',
    ...(o.extra ?? []),
    '--apply',
  ]);
  if (install.code !== 0) throw new Error(`disk install failed (${install.code}): ${install.stderr}`);
  await kube.ok(['-n', o.ctrlNs, 'rollout', 'status', `deployment/${DEPLOYMENT}`, '--timeout=300s'], {
    timeoutMs: 320_000,
  });
}

/** The pod that holds the Lease now, or undefined. */
export async function leaseHolder(kube: Kube, ctrlNs: string): Promise<string | undefined> {
  const r = await kube.run(['-n', ctrlNs, 'get', 'lease', LEASE, '-o', 'jsonpath={.spec.holderIdentity}']);
  const id = r.code === 0 ? r.stdout.trim() : '';
  return id || undefined;
}

/** The text of a controller pod's /metrics, through the API server's pod proxy. */
export async function controllerMetrics(kube: Kube, ctrlNs: string, pod: string): Promise<string> {
  return kube.ok(['get', '--raw', `/api/v1/namespaces/${ctrlNs}/pods/${pod}:8080/proxy/metrics`]);
}

/** Value of the first sample of `name` whose labels include every pair of `labels`. */
export function sample(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (!want) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

export interface ClusterEvent {
  readonly reason: string;
  readonly message: string;
  readonly type: string;
  readonly count?: number;
  readonly series?: { count?: number };
  readonly involvedObject: { kind: string; name: string };
}

/** Events on a Cluster. */
export async function clusterEvents(kube: Kube, ns: string, cluster: string): Promise<ClusterEvent[]> {
  const list = await kube.json<{ items: ClusterEvent[] }>([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    `involvedObject.name=${cluster},involvedObject.kind=Cluster`,
  ]);
  return list.items;
}

/** The ledger entries on a PVC. */
export async function ledgerEntries(kube: Kube, ns: string, pvc: string): Promise<Record<string, unknown>[]> {
  const obj = await kube.json<{ metadata: { annotations?: Record<string, string> } }>(['-n', ns, 'get', 'pvc', pvc]);
  const raw = obj.metadata.annotations?.['disk.cnpg-plugin.dev/resize-ledger'];
  if (!raw) return [];
  return ((JSON.parse(raw) as { entries?: Record<string, unknown>[] }).entries ?? []) as Record<string, unknown>[];
}

/** Logs of the controller pods, for a failure's context. */
export async function controllerLogs(kube: Kube, ctrlNs: string, tail = 60): Promise<string> {
  const r = await kube.run(['-n', ctrlNs, 'logs', '-l', POD_LABEL, '--tail', String(tail), '--prefix']);
  return r.stdout + r.stderr;
}

/** Deletes what deployController created: both namespaces and the cluster-scoped RBAC. */
export async function removeController(kube: Kube, ctrlNs: string, watchNs: string): Promise<void> {
  if (ctrlNs) console.error(`[e2e] controller logs:\n${await controllerLogs(kube, ctrlNs, 40)}`);
  if (watchNs) await kube.deleteNamespace(watchNs);
  if (ctrlNs) await kube.deleteNamespace(ctrlNs);
  for (const r of ['clusterrole', 'clusterrolebinding']) {
    await kube.run(['delete', r, 'cnpg-disk-autoresizer-cluster', '--ignore-not-found']);
  }
}
