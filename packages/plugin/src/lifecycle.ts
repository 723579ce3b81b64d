/**
 * The operator lifecycle hook: for a CloudNativePG instance Pod (CREATE, and
 * EVALUATE when the operator builds the Pod it compares against the running
 * one), add the probe as a native sidecar — an init container with
 * `restartPolicy: Always` (Kubernetes 1.29+), which starts before postgres,
 * keeps running while postgres restarts, and stops after it.
 *
 * The sidecar mounts, read-only, the postgres container's data, WAL and
 * tablespace volumes (what it measures) and its /controller directory (the
 * postgres socket, for the SQL facts); it shares a `plugins` emptyDir at
 * /plugins with the postgres container, where it serves CNPG-I on the socket
 * named after the plugin. It runs as the postgres user (PGDATA is 0700) with
 * a restricted securityContext.
 *
 * Pure: Pod and Cluster JSON in, JSON patch (RFC 6902) out. The patch is the
 * same for the same input and empty when the Pod already has exactly this
 * sidecar, so EVALUATE never asks for a rollout the Pod does not need.
 */
import { MOUNT_PATHS, PLUGIN_NAME, pluginEntryOf } from '@cnpg-disk/core';

export const SIDECAR_NAME = 'cnpg-disk-probe';
export const PLUGINS_VOLUME = 'plugins';
export const PLUGINS_DIR = '/plugins';
/** CloudNativePG's scratch directory in the instance pod; the postgres socket is in its run/ subdirectory. */
export const CONTROLLER_DIR = '/controller';
export const STATUS_PORT = 9188;
export const STATUS_PORT_NAME = 'disk-status';
/** The postgres user of the CloudNativePG images (spec.postgresUID / postgresGID override it). */
export const POSTGRES_UID = 26;

/** Environment the probe reads, copied from the postgres container when it is set there. */
const COPIED_ENV = ['POD_NAME', 'NAMESPACE', 'CLUSTER_NAME', 'PGHOST', 'PGPORT'];

export interface SidecarOptions {
  /** The image with `cnpg-disk-plugin` as its entrypoint (the plugin's own image). */
  image: string;
  /** Defaults: requests cpu 10m, memory 64Mi; limit memory 192Mi. */
  resources?: Record<string, unknown>;
}

export const DEFAULT_SIDECAR_RESOURCES = Object.freeze({
  requests: { cpu: '10m', memory: '64Mi' },
  limits: { memory: '192Mi' },
});

export type JsonPatchOp = { op: 'add'; path: string; value: unknown };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objects(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** Why a Pod is left alone (for logs), or undefined when it gets the sidecar. */
export type SkipReason = 'not-a-pod' | 'no-postgres-container' | 'plugin-disabled';

export interface LifecycleResult {
  patch: JsonPatchOp[];
  skipped?: SkipReason;
}

function uidOf(cluster: unknown, field: 'postgresUID' | 'postgresGID'): number {
  const spec = isObj(cluster) && isObj(cluster['spec']) ? cluster['spec'] : {};
  const v = spec[field];
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : POSTGRES_UID;
}

/** Is this mount one the probe measures (data, WAL, a tablespace) or needs (the postgres socket)? */
function measuredMount(m: Obj): boolean {
  const path = typeof m['mountPath'] === 'string' ? m['mountPath'] : '';
  return (
    path === MOUNT_PATHS.data ||
    path === MOUNT_PATHS.wal ||
    path.startsWith(`${MOUNT_PATHS.tablespaces}/`) ||
    path === CONTROLLER_DIR
  );
}

export function socketPath(name: string = PLUGIN_NAME): string {
  return `${PLUGINS_DIR}/${name}`;
}

/** The sidecar container for a Pod whose postgres container is `postgres`. */
export function sidecarContainer(postgres: Obj, cluster: unknown, opts: SidecarOptions): Obj {
  const spec = isObj(cluster) && isObj(cluster['spec']) ? cluster['spec'] : {};
  const env = objects(postgres['env']).filter((e) => typeof e['name'] === 'string' && COPIED_ENV.includes(e['name']));
  const mounts = objects(postgres['volumeMounts'])
    .filter(measuredMount)
    .map((m) => ({
      name: m['name'],
      mountPath: m['mountPath'],
      ...(typeof m['subPath'] === 'string' && m['subPath'] !== '' ? { subPath: m['subPath'] } : {}),
      readOnly: true,
    }));
  const socket = socketPath();
  const container: Obj = {
    name: SIDECAR_NAME,
    image: opts.image,
    args: ['instance', '--socket', socket, '--listen', `0.0.0.0:${STATUS_PORT}`],
    ...(env.length > 0 ? { env } : {}),
    ports: [{ name: STATUS_PORT_NAME, containerPort: STATUS_PORT, protocol: 'TCP' }],
    resources: opts.resources ?? DEFAULT_SIDECAR_RESOURCES,
    volumeMounts: [...mounts, { name: PLUGINS_VOLUME, mountPath: PLUGINS_DIR }],
    // Ready when CNPG-I answers on the socket: the instance manager finds it before postgres starts.
    startupProbe: {
      exec: { command: ['cnpg-disk-plugin', 'healthcheck', '--socket', socket] },
      periodSeconds: 2,
      timeoutSeconds: 5,
      failureThreshold: 30,
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: uidOf(cluster, 'postgresUID'),
      runAsGroup: uidOf(cluster, 'postgresGID'),
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    restartPolicy: 'Always',
  };
  if (typeof spec['imagePullPolicy'] === 'string') container['imagePullPolicy'] = spec['imagePullPolicy'];
  return container;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The JSON patch that gives an instance Pod the sidecar (empty when it has
 * it already, or is not ours to change). Throws a one-sentence Error when the
 * inputs are not JSON objects.
 */
export function instancePodPatch(pod: unknown, cluster: unknown, opts: SidecarOptions): LifecycleResult {
  if (!isObj(pod) || pod['kind'] !== 'Pod' || !isObj(pod['spec'])) return { patch: [], skipped: 'not-a-pod' };
  const entry = pluginEntryOf(cluster);
  if (entry && !entry.enabled) return { patch: [], skipped: 'plugin-disabled' };
  const spec = pod['spec'];
  const containers = Array.isArray(spec['containers']) ? (spec['containers'] as unknown[]) : [];
  const pgIndex = containers.findIndex((c) => isObj(c) && c['name'] === 'postgres');
  if (pgIndex < 0) return { patch: [], skipped: 'no-postgres-container' };
  const postgres = containers[pgIndex] as Obj;

  const patch: JsonPatchOp[] = [];
  // The plugins volume (another plugin may have added it already).
  const volumes = Array.isArray(spec['volumes']) ? [...(spec['volumes'] as unknown[])] : [];
  if (!volumes.some((v) => isObj(v) && v['name'] === PLUGINS_VOLUME)) {
    volumes.push({ name: PLUGINS_VOLUME, emptyDir: {} });
    patch.push({ op: 'add', path: '/spec/volumes', value: volumes });
  }
  // The postgres container sees the sockets under /plugins.
  const pgMounts = objects(postgres['volumeMounts']);
  if (!pgMounts.some((m) => m['mountPath'] === PLUGINS_DIR)) {
    patch.push({
      op: 'add',
      path: `/spec/containers/${pgIndex}/volumeMounts`,
      value: [
        ...(Array.isArray(postgres['volumeMounts']) ? postgres['volumeMounts'] : []),
        { name: PLUGINS_VOLUME, mountPath: PLUGINS_DIR },
      ],
    });
  }
  // The sidecar, replacing an older version of itself in place.
  const sidecar = sidecarContainer(postgres, cluster, opts);
  const inits = Array.isArray(spec['initContainers']) ? [...(spec['initContainers'] as unknown[])] : [];
  const at = inits.findIndex((c) => isObj(c) && c['name'] === SIDECAR_NAME);
  if (at < 0 || !same(inits[at], sidecar)) {
    if (at < 0) inits.push(sidecar);
    else inits[at] = sidecar;
    patch.push({ op: 'add', path: '/spec/initContainers', value: inits });
  }
  return { patch };
}

/** A request the plugin cannot act on (bad JSON from the caller): INVALID_ARGUMENT, not INTERNAL. */
export class RequestError extends Error {}

/** Parses a JSON document the operator sent; throws a RequestError of one sentence naming it. */
export function parseJsonObject(bytes: Uint8Array | undefined, what: string): Obj {
  const text = Buffer.from(bytes ?? []).toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new RequestError(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (!isObj(v)) throw new RequestError(`${what} is not a JSON object`);
  return v;
}
