/**
 * The lifecycle patch as a pure function, on the cases a real operator sends
 * less often than the common one grpc.test.ts covers end to end: another
 * plugin's volume already there, an older sidecar, a custom postgres UID,
 * Pods that are not instances, and the plugin's command-line parsing.
 */
import { describe, expect, it } from 'vitest';
import { PLUGIN_NAME } from '@cnpg-disk/core';
import {
  SIDECAR_NAME,
  instancePodPatch,
  loadProtocol,
  parseJsonObject,
  parsePluginArgs,
  sidecarContainer,
  validateCluster,
  type JsonPatchOp,
} from '../src/index.js';

const opts = { image: 'img:1' };
const cluster = (extra: Record<string, unknown> = {}, plugin: Record<string, unknown> = {}) => ({
  kind: 'Cluster',
  metadata: { name: 'pg', namespace: 'db' },
  spec: { instances: 1, plugins: [{ name: PLUGIN_NAME, ...plugin }], ...extra },
});
const pod = (extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'pg-1', namespace: 'db' },
  spec: {
    containers: [
      { name: 'sidecar-of-someone', image: 'x' },
      {
        name: 'postgres',
        image: 'pg',
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
        ],
        volumeMounts: [
          { name: 'pgdata', mountPath: '/var/lib/postgresql/data' },
          { name: 'shm', mountPath: '/dev/shm' },
          { name: 'tbs-a', mountPath: '/var/lib/postgresql/tablespaces/a', subPath: 'x' },
        ],
      },
    ],
    volumes: [{ name: 'pgdata', persistentVolumeClaim: { claimName: 'pg-1' } }],
    ...extra,
  },
});

/** Applies "add" operations the way RFC 6902 does for the paths we use (object members). */
function apply(doc: unknown, patch: JsonPatchOp[]): unknown {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of patch) {
    const parts = op.path.split('/').slice(1);
    let node: Record<string, unknown> = out;
    for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
    node[parts.at(-1) as string] = op.value;
  }
  return out;
}

describe('instancePodPatch', () => {
  it('adds the volume, the postgres mount and the sidecar; applied, it needs nothing more', () => {
    const p = pod();
    const r = instancePodPatch(p, cluster(), opts);
    expect(r.patch.map((o) => o.path)).toEqual([
      '/spec/volumes',
      '/spec/containers/1/volumeMounts',
      '/spec/initContainers',
    ]);
    const patched = apply(p, r.patch) as ReturnType<typeof pod> & {
      spec: { initContainers: Record<string, unknown>[] };
    };
    const sidecar = patched.spec.initContainers[0] as Record<string, unknown>;
    expect(sidecar['name']).toBe(SIDECAR_NAME);
    // Only what the probe measures or needs, read-only; subPath kept; shm left out.
    expect(sidecar['volumeMounts']).toEqual([
      { name: 'pgdata', mountPath: '/var/lib/postgresql/data', readOnly: true },
      { name: 'tbs-a', mountPath: '/var/lib/postgresql/tablespaces/a', subPath: 'x', readOnly: true },
      { name: 'plugins', mountPath: '/plugins' },
    ]);
    expect(sidecar['env']).toEqual([{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
    expect(instancePodPatch(patched, cluster(), opts)).toEqual({ patch: [] });
  });

  it("reuses another plugin's /plugins volume and mount, and replaces an older sidecar in place", () => {
    const p = pod({
      volumes: [{ name: 'plugins', emptyDir: {} }],
      initContainers: [{ name: 'other' }, { name: SIDECAR_NAME, image: 'img:0' }, { name: 'last' }],
    });
    (p.spec.containers[1]?.volumeMounts as unknown[]).push({ name: 'plugins', mountPath: '/plugins' });
    const r = instancePodPatch(p, cluster(), opts);
    expect(r.patch.map((o) => o.path)).toEqual(['/spec/initContainers']);
    const inits = r.patch[0]?.value as Record<string, unknown>[];
    expect(inits.map((c) => [c['name'], c['image'] ?? null])).toEqual([
      ['other', null],
      [SIDECAR_NAME, 'img:1'],
      ['last', null],
    ]);
  });

  it("runs as the Cluster's postgresUID/GID when set, 26 otherwise or when nonsense", () => {
    const sc = (c: unknown) =>
      sidecarContainer(pod().spec.containers[1] as Record<string, unknown>, c, opts)['securityContext'];
    expect(sc(cluster({ postgresUID: 1001, postgresGID: 1002 }))).toMatchObject({ runAsUser: 1001, runAsGroup: 1002 });
    expect(sc(cluster({ postgresUID: -1, postgresGID: '5' }))).toMatchObject({ runAsUser: 26, runAsGroup: 26 });
    expect(sidecarContainer({}, null, { image: 'i', resources: { limits: { memory: '1Gi' } } })['resources']).toEqual({
      limits: { memory: '1Gi' },
    });
  });

  it('leaves alone what is not an instance Pod of a Cluster with the plugin enabled', () => {
    expect(instancePodPatch({ kind: 'Job', spec: {} }, cluster(), opts)).toEqual({ patch: [], skipped: 'not-a-pod' });
    expect(instancePodPatch({ kind: 'Pod' }, cluster(), opts)).toEqual({ patch: [], skipped: 'not-a-pod' });
    expect(instancePodPatch(pod({ containers: [{ name: 'pgbouncer' }] }), cluster(), opts)).toEqual({
      patch: [],
      skipped: 'no-postgres-container',
    });
    expect(instancePodPatch(pod(), cluster({}, { enabled: false }), opts)).toEqual({
      patch: [],
      skipped: 'plugin-disabled',
    });
  });

  it('parseJsonObject names what it could not read', () => {
    expect(() => parseJsonObject(Buffer.from('[1]'), 'the Pod')).toThrow('the Pod is not a JSON object');
    expect(() => parseJsonObject(undefined, 'the Pod')).toThrow(/^the Pod is not JSON: /);
    expect(parseJsonObject(Buffer.from('{"a":1}'), 'x')).toEqual({ a: 1 });
  });
});

describe('validateCluster', () => {
  it('nothing when the plugin is absent or disabled; the whole parameters value when it is not a map', () => {
    expect(validateCluster({ spec: {} })).toEqual([]);
    expect(validateCluster(cluster({}, { enabled: false, parameters: { x: 'y' } }))).toEqual([]);
    expect(validateCluster(cluster({}, { parameters: ['data.enabled'] }))).toEqual([
      {
        pathComponents: ['spec', 'plugins[0]', 'parameters'],
        value: '["data.enabled"]',
        message: 'DOCUMENT_INVALID: the plugin parameters must be a map of strings.',
      },
    ]);
    expect(validateCluster(cluster({}, { parameters: { 'wal.enabled': false } }))[0]).toMatchObject({
      pathComponents: ['spec', 'plugins[0]', 'parameters', 'wal.enabled'],
      value: 'false',
    });
  });
});

describe('parsePluginArgs', () => {
  it('operator: defaults, flags, the image from the environment, and one-line errors', () => {
    expect(parsePluginArgs(['operator'], { SIDECAR_IMAGE: 'img' })).toEqual({
      command: 'operator',
      listen: { host: '0.0.0.0', port: 9090 },
      serverCert: '/tls/server/tls.crt',
      serverKey: '/tls/server/tls.key',
      clientCa: '/tls/client/tls.crt',
      sidecar: { image: 'img' },
    });
    expect(
      parsePluginArgs([
        'operator',
        '--sidecar-image',
        'i',
        '--listen',
        '[::1]:1',
        '--sidecar-resources',
        '{"limits":{}}',
      ]),
    ).toMatchObject({ listen: { host: '::1', port: 1 }, sidecar: { image: 'i', resources: { limits: {} } } });
    expect(() => parsePluginArgs(['operator'])).toThrow('--sidecar-image (or SIDECAR_IMAGE) is required');
    expect(() => parsePluginArgs(['operator', '--sidecar-image', 'i', '--sidecar-resources', '[]'])).toThrow(
      '--sidecar-resources must be a JSON object',
    );
    expect(() => parsePluginArgs(['operator', '--sidecar-image', 'i', '--listen', 'nope'])).toThrow(
      '--listen must be HOST:PORT',
    );
    expect(() => parsePluginArgs(['operator', '--bogus'])).toThrow("Unknown option '--bogus'");
  });

  it('instance and healthcheck: the socket, the rest to the probe', () => {
    const i = parsePluginArgs(['instance', '--socket=/s', '--no-sql', '--listen', '0.0.0.0:9188'], {
      POD_NAME: 'pg-1',
    });
    expect(i).toMatchObject({ command: 'instance', socket: '/s', probe: { command: 'serve', listen: { port: 9188 } } });
    expect(parsePluginArgs(['instance'], { POD_NAME: 'p' })).toMatchObject({ socket: `/plugins/${PLUGIN_NAME}` });
    expect(parsePluginArgs(['healthcheck'])).toEqual({ command: 'healthcheck', socket: `/plugins/${PLUGIN_NAME}` });
    expect(() => parsePluginArgs(['healthcheck', 'x'])).toThrow('unexpected argument "x"');
    expect(() => parsePluginArgs(['instance', '--socket'])).toThrow('--socket needs a path');
    expect(() => parsePluginArgs(['instance', '--socket='])).toThrow('--socket must not be empty');
    expect(() => parsePluginArgs(['instance', '--format', 'json'])).toThrow('--format applies to once only');
    expect(() => parsePluginArgs(['serve'])).toThrow('unknown command "serve": use operator, instance or healthcheck');
    expect(parsePluginArgs([])).toEqual({ command: 'help' });
    expect(parsePluginArgs(['--version'])).toEqual({ command: 'version' });
  });
});

describe('loadProtocol', () => {
  it('names the missing file and the script that extracts it', () => {
    expect(() => loadProtocol('/nonexistent-protos')).toThrow(
      '/nonexistent-protos/identity.proto is missing: run packages/plugin/scripts/protos.sh',
    );
  });
});
