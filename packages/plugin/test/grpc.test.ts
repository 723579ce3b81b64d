/**
 * The plugin against a real CNPG-I client: a Go program built from the cnpg-i
 * module's generated code (the version CloudNativePG v1.29.1 requires), with
 * CloudNativePG's own pod builder and the JSON-patch library the operator
 * applies plugin patches with.
 *
 *  - operator side over TCP with the operator's TLS settings (the server
 *    certificate as the only root, a client certificate, TLS 1.3): every RPC
 *    we serve; a client certificate from another CA, no client certificate and
 *    TLS 1.2 are refused; bad policy parameters come back with our codes;
 *  - the lifecycle patch on a Pod CloudNativePG builds, applied and decoded as
 *    the operator does, is admitted by a real kube-apiserver (dry run) in a
 *    namespace that enforces the "restricted" Pod Security Standard;
 *  - instance side over the unix socket: Identity and Metrics, whose figures
 *    equal `df -B1` on real tmpfs mounts, while postgres is not there at all.
 *
 * Nothing is mocked. Needs go, openssl, mount (root) and the kube-apiserver
 * of test/infra. The first run builds the Go client (minutes; cached).
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLUGIN_NAME, decodeProbeReport } from '@cnpg-disk/core';
import { METRIC_DEFINITIONS } from '@cnpg-disk/probe';
import { startApiServer, type ApiServerHandle } from '../../../test/infra/apiserver.js';
import { df, mountTmpfs, runCleanups, tempDir } from '../../probe/test/helpers/sys.js';
import { SIDECAR_NAME, loadProtocol, main, startOperatorServer, type Running } from '../src/index.js';
import { ensureProtos, goClient, runClient, selfSigned } from './helpers.js';

const SERVICE = 'cnpg-disk-plugin';
let dir: string;
let client: string;
let operator: Running;
let certs: Record<'server' | 'client' | 'other', { cert: string; key: string }>;
const logs: unknown[] = [];

const tlsArgs = (who: 'client' | 'other' | 'none' = 'client') => [
  '-addr',
  `127.0.0.1:${operator.port}`,
  '-server-cert',
  certs.server.cert,
  '-server-name',
  SERVICE,
  ...(who === 'none' ? [] : ['-client-cert', certs[who].cert, '-client-key', certs[who].key]),
];

/**
 * The operator side as the Deployment runs it: our server certificate, and
 * the operator's client certificate as the only CA it accepts.
 */
function startOperator(log: Parameters<typeof startOperatorServer>[0]['log'] = () => undefined): Promise<Running> {
  return startOperatorServer({
    protocol: loadProtocol(),
    host: '127.0.0.1',
    port: 0,
    tls: {
      cert: readFileSync(certs.server.cert),
      key: readFileSync(certs.server.key),
      clientCa: readFileSync(certs.client.cert),
    },
    sidecar: { image: 'registry.example/cnpg-disk-plugin:0.1.0' },
    log,
  });
}

function clusterJson(parameters: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): string {
  const path = join(dir, `cluster-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { name: 'pg', namespace: 'db' },
      spec: {
        instances: 3,
        imageName: 'registry.example/postgresql:15',
        storage: { size: '1Gi' },
        walStorage: { size: '1Gi' },
        tablespaces: [{ name: 'idx', storage: { size: '1Gi' } }],
        plugins: [
          { name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true },
          { name: PLUGIN_NAME, ...(parameters ? { parameters } : {}) },
        ],
        ...extra,
      },
    }),
  );
  return path;
}

beforeAll(() => {
  ensureProtos();
  client = goClient();
  dir = tempDir('cnpg-plugin-');
  certs = {
    server: selfSigned(dir, 'server', [SERVICE, `${SERVICE}.cnpg-system.svc`]),
    client: selfSigned(dir, 'client'),
    other: selfSigned(dir, 'other'),
  };
}, 20 * 60_000);

afterAll(() => runCleanups());

it('the extracted protocol is readable by the unprivileged users the plugin runs as', () => {
  const protos = ensureProtos();
  expect((statSync(protos).mode & 0o777).toString(8)).toBe('755');
  for (const f of readdirSync(protos)) expect((statSync(join(protos, f)).mode & 0o777).toString(8), f).toBe('644');
});

describe('operator side: TCP, mutual TLS 1.3', () => {
  beforeAll(async () => {
    operator = await startOperator((event, fields) => logs.push({ event, ...fields }));
  });
  afterAll(() => operator?.close());

  it('Identity: metadata, the operator-side capabilities, ready', async () => {
    const r = await runClient(client, [...tlsArgs(), 'identity']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json['metadata']).toMatchObject({ name: PLUGIN_NAME, version: '0.1.0', license: 'Apache-2.0' });
    expect(r.json['capabilities']).toEqual({
      capabilities: [
        { service: { type: 'TYPE_OPERATOR_SERVICE' } },
        { service: { type: 'TYPE_LIFECYCLE_SERVICE' } },
        { service: { type: 'TYPE_INSTANCE_SIDECAR_INJECTION' } },
      ],
    });
    expect(r.json['probe']).toEqual({ ready: true });
  });

  it('refuses a client certificate of another CA, no client certificate, and TLS 1.2', async () => {
    const other = await runClient(client, [...tlsArgs('other'), 'identity']);
    expect(other.code).toBe(3);
    expect(other.json).toMatchObject({ call: 'metadata', code: 'Unavailable' });
    const none = await runClient(client, [...tlsArgs('none'), 'identity']);
    expect(none.code).toBe(3);
    expect(none.json['code']).toBe('Unavailable');
    const old = await runClient(client, [...tlsArgs(), '-max-tls12', 'identity']);
    expect(old.code).toBe(3);
    expect(old.json['message']).toContain('protocol version not supported');
    // The client checks us too: a server name our certificate does not carry is refused by the client.
    const args = tlsArgs();
    args[args.indexOf(SERVICE)] = 'somebody-else';
    const wrongName = await runClient(client, [...args, 'identity']);
    expect(wrongName.code).toBe(3);
  });

  it('Operator: capabilities; validation returns our codes for bad parameters, nothing for good ones', async () => {
    const bad = clusterJson({
      'data.enabled': 'true',
      'data.usageThreshold': '150',
      'wal.step': '10',
      'tablespace.idx.limt': '5Gi',
    });
    const r = await runClient(client, [...tlsArgs(), 'operator', bad]);
    expect(r.code).toBe(0);
    expect(r.json['capabilities']).toEqual({
      capabilities: [
        { rpc: { type: 'TYPE_VALIDATE_CLUSTER_CREATE' } },
        { rpc: { type: 'TYPE_VALIDATE_CLUSTER_CHANGE' } },
      ],
    });
    const errors = (r.json['validateCreate'] as { validation_errors: unknown[] }).validation_errors;
    expect(errors).toEqual([
      {
        path_components: ['spec', 'plugins[1]', 'parameters', 'tablespace.idx.limt'],
        value: '5Gi',
        message: expect.stringMatching(/^UNKNOWN_FIELD: unknown field "limt"/),
      },
      {
        path_components: ['spec', 'plugins[1]', 'parameters', 'data.usageThreshold'],
        value: '150',
        message: 'THRESHOLD_OUT_OF_RANGE: usageThreshold 150 is outside 1..99 (percent of the filesystem used).',
      },
      {
        path_components: ['spec', 'plugins[1]', 'parameters', 'wal.step'],
        value: '10',
        message: 'STEP_BARE_INTEGER: step "10" has no unit: write "10%" for a percentage or "10Gi" for a size.',
      },
    ]);
    expect(r.json['validateChange']).toEqual(r.json['validateCreate']);

    const good = clusterJson({ 'data.enabled': 'true', 'data.usageThreshold': '85', 'wal.enabled': 'true' });
    const ok = await runClient(client, [...tlsArgs(), 'operator', good, bad]);
    expect(ok.code).toBe(0);
    // protojson leaves out an empty list: no validation errors at all.
    expect(ok.json['validateCreate']).toEqual({});
    expect(ok.json['validateChange']).toEqual({});
    // Warnings never refuse a Cluster: a limit not above the declared size is LIMIT_NOT_ABOVE_SIZE, a warning.
    const warnOnly = clusterJson({ 'data.enabled': 'true', 'data.limit': '1Gi' });
    expect((await runClient(client, [...tlsArgs(), 'operator', warnOnly])).json['validateCreate']).toEqual({});
  });

  it('Operator: a definition that is not JSON is INVALID_ARGUMENT with one sentence', async () => {
    const path = join(dir, 'garbage.json');
    writeFileSync(path, '{not json');
    const r = await runClient(client, [...tlsArgs(), 'operator', path]);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ call: 'validateCreate', code: 'InvalidArgument' });
    expect(r.json['message']).toMatch(/^the Cluster definition is not JSON: /);
  });

  it('OperatorLifecycle: Pods on CREATE and EVALUATE; the patched Pod gets no second patch', async () => {
    const cluster = clusterJson({ 'data.enabled': 'true' });
    const r = await runClient(client, [...tlsArgs(), 'lifecycle', 'TYPE_EVALUATE', cluster]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json['capabilities']).toEqual({
      lifecycle_capabilities: [{ kind: 'Pod', operation_types: [{ type: 'TYPE_CREATE' }, { type: 'TYPE_EVALUATE' }] }],
    });
    const pod = r.json['patchedPod'] as { spec: { initContainers: { name: string }[] } };
    expect(pod.spec.initContainers.map((c) => c.name)).toEqual(['bootstrap-controller', SIDECAR_NAME]);
    const patchedFile = join(dir, 'patched-pod.json');
    writeFileSync(patchedFile, JSON.stringify(pod));
    const again = await runClient(client, [...tlsArgs(), 'lifecycle', 'TYPE_CREATE', cluster, patchedFile]);
    expect(again.code).toBe(0);
    expect(again.json['hook']).toEqual({});
    const create = await runClient(client, [...tlsArgs(), 'lifecycle', 'TYPE_CREATE', cluster]);
    expect(create.json['patchedPod']).toEqual(pod);
    const del = await runClient(client, [...tlsArgs(), 'lifecycle', 'TYPE_DELETE', cluster]);
    expect(del.json['hook']).toEqual({});
    // Disabled on the Cluster: the Pod is left alone.
    const off = join(dir, 'cluster-off.json');
    writeFileSync(
      off,
      JSON.stringify({
        kind: 'Cluster',
        metadata: { name: 'pg', namespace: 'db' },
        spec: { instances: 1, storage: { size: '1Gi' }, plugins: [{ name: PLUGIN_NAME, enabled: false }] },
      }),
    );
    expect((await runClient(client, [...tlsArgs(), 'lifecycle', 'TYPE_EVALUATE', off])).json['hook']).toEqual({});
    expect(logs).toContainEqual(
      expect.objectContaining({ event: 'lifecycle', operation: 'TYPE_EVALUATE', pod: 'db/pg-1' }),
    );
  });
});

describe('the patched Pod against a real kube-apiserver', () => {
  let api: ApiServerHandle;
  beforeAll(async () => {
    api = await startApiServer({
      installCrds: false,
      extraAdmissionPlugins: ['PodSecurity'],
    });
    const ns = await api.request('POST', '/api/v1/namespaces', {
      body: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'db', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      },
    });
    expect(ns.status).toBe(201);
  }, 180_000);
  afterAll(() => api?.stop());

  const dryRun = (pod: unknown) => api.request('POST', '/api/v1/namespaces/db/pods?dryRun=All', { body: pod });

  it('is a valid Pod that meets the restricted Pod Security Standard, with the sidecar as we built it', async () => {
    operator = await startOperator();
    try {
      const cluster = clusterJson({ 'data.enabled': 'true' }, { imagePullPolicy: 'IfNotPresent' });
      const r = await runClient(client, [...tlsArgs(), 'lifecycle', 'TYPE_CREATE', cluster]);
      expect(r.code).toBe(0);
      const res = await dryRun(r.json['patchedPod']);
      expect(res.body).toContain('"kind":"Pod"');
      expect(res.status, res.body).toBe(201);
      const created = res.json<{ spec: Record<string, unknown> }>();
      const spec = created.spec as {
        initContainers: Record<string, unknown>[];
        containers: { name: string; volumeMounts: { name: string; mountPath: string }[] }[];
        volumes: { name: string; emptyDir?: unknown }[];
      };
      const sidecar = spec.initContainers.find((c) => c['name'] === SIDECAR_NAME) as Record<string, unknown>;
      expect(sidecar['restartPolicy']).toBe('Always');
      expect(sidecar['imagePullPolicy']).toBe('IfNotPresent');
      expect(sidecar['volumeMounts']).toEqual([
        { name: 'pgdata', mountPath: '/var/lib/postgresql/data', readOnly: true },
        { name: 'scratch-data', mountPath: '/controller', readOnly: true },
        { name: 'pg-wal', mountPath: '/var/lib/postgresql/wal', readOnly: true },
        { name: 'tbs-idx', mountPath: '/var/lib/postgresql/tablespaces/idx', readOnly: true },
        { name: 'plugins', mountPath: '/plugins' },
      ]);
      expect(sidecar['securityContext']).toMatchObject({
        runAsUser: 26,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
      });
      expect(sidecar['startupProbe']).toMatchObject({
        exec: { command: ['cnpg-disk-plugin', 'healthcheck', '--socket', `/plugins/${PLUGIN_NAME}`] },
      });
      const postgres = spec.containers.find((c) => c.name === 'postgres');
      expect(postgres?.volumeMounts).toContainEqual({ name: 'plugins', mountPath: '/plugins' });
      expect(spec.volumes).toContainEqual({ name: 'plugins', emptyDir: {} });

      // The namespace really enforces "restricted": the same Pod with a privileged sidecar is refused.
      const tampered = structuredClone(r.json['patchedPod']) as typeof created;
      const s = (tampered.spec as typeof spec).initContainers.find((c) => c['name'] === SIDECAR_NAME) as Record<
        string,
        Record<string, unknown>
      >;
      s['securityContext'] = { ...s['securityContext'], allowPrivilegeEscalation: true };
      const refused = await dryRun(tampered);
      expect(refused.status, refused.body).toBe(403);
      expect(refused.body).toContain('violates PodSecurity');
      expect(refused.body).toContain('allowPrivilegeEscalation != false');
    } finally {
      await operator.close();
    }
  });
});

describe('instance side: the unix socket, postgres absent', () => {
  let root: string;
  let socket: string;
  let statusPort: number;
  let close: (() => Promise<void>) | undefined;
  const stderr: string[] = [];

  beforeAll(async () => {
    root = join(dir, 'root');
    mountTmpfs(join(root, 'var/lib/postgresql/data'), '16m');
    mountTmpfs(join(root, 'var/lib/postgresql/wal'), '8m');
    mkdirSync(join(root, 'var/lib/postgresql/data/pgdata/pg_wal/archive_status'), { recursive: true });
    writeFileSync(
      join(root, 'var/lib/postgresql/data/pgdata/pg_wal/archive_status/000000010000000000000001.ready'),
      '',
    );
    writeFileSync(join(root, 'var/lib/postgresql/data/filler'), Buffer.alloc(3 * 1024 * 1024, 1));
    socket = join(dir, PLUGIN_NAME);
    const r = await main(
      [
        'instance',
        '--socket',
        socket,
        '--root',
        root,
        '--pg-host',
        join(dir, 'no-postgres-here'),
        '--listen',
        '127.0.0.1:0',
        '--cache-ttl',
        '0',
      ],
      { POD_NAME: 'pg-1', NAMESPACE: 'db', CLUSTER_NAME: 'pg' },
      { stdout: () => undefined, stderr: (s) => stderr.push(s) },
    );
    expect(r.code).toBe(0);
    close = r.close;
    const listening = stderr
      .map((l) => JSON.parse(l) as Record<string, string>)
      .find((l) => l['event'] === 'listening');
    statusPort = Number(listening?.['status']?.split(':').pop());
  });
  afterAll(() => close?.());

  it('Identity over the socket: the same name, the Metrics capability', async () => {
    const r = await runClient(client, ['-addr', `unix://${socket}`, 'identity']);
    expect(r.code).toBe(0);
    expect(r.json['metadata']).toMatchObject({ name: PLUGIN_NAME });
    expect(r.json['capabilities']).toEqual({ capabilities: [{ service: { type: 'TYPE_METRICS' } }] });
  });

  it('Metrics: Define lists every probe family; Collect equals df -B1, consistent with the definitions', async () => {
    const r = await runClient(client, ['-addr', `unix://${socket}`, 'metrics']);
    expect(r.stderr).toBe('');
    expect(r.json['capabilities']).toEqual({ capabilities: [{ rpc: { type: 'TYPE_METRICS' } }] });
    const defined = (
      r.json['define'] as { metrics: { fq_name: string; variable_labels: string[]; value_type: { type: string } }[] }
    ).metrics;
    expect(defined.map((d) => d.fq_name)).toEqual(METRIC_DEFINITIONS.map((d) => d.name));
    expect(defined.every((d) => d.value_type.type === 'TYPE_GAUGE')).toBe(true);
    const collected = (
      r.json['collect'] as { metrics: { fq_name: string; value?: number; variable_labels: string[] }[] }
    ).metrics;
    // What the instance manager requires, or it fails the whole scrape: defined names, label counts, no duplicates.
    const seen = new Set<string>();
    for (const m of collected) {
      const d = defined.find((x) => x.fq_name === m.fq_name);
      expect(d, m.fq_name).toBeDefined();
      expect(m.variable_labels.length).toBe(d?.variable_labels.length);
      const key = `${m.fq_name}${JSON.stringify(m.variable_labels)}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
    }
    const value = (name: string, volume: string) => {
      const m = collected.find((x) => x.fq_name === name && x.variable_labels[3] === volume);
      // protojson leaves out a zero value.
      return m ? BigInt(m.value ?? 0) : -1n;
    };
    for (const [volume, path] of [
      ['data', join(root, 'var/lib/postgresql/data')],
      ['wal', join(root, 'var/lib/postgresql/wal')],
    ] as const) {
      const d = df(path);
      expect(value('cnpg_disk_total_bytes', volume)).toBe(d.size);
      expect(value('cnpg_disk_used_bytes', volume)).toBe(d.used);
      expect(value('cnpg_disk_available_bytes', volume)).toBe(d.avail);
      expect(value('cnpg_disk_inodes_free', volume)).toBe(d.iavail);
    }
    expect(value('cnpg_disk_used_bytes', 'data')).toBeGreaterThanOrEqual(3n * 1024n * 1024n);
    const base = (name: string) => collected.find((m) => m.fq_name === name);
    expect(base('cnpg_wal_pending_archive_files')).toMatchObject({ value: 1, variable_labels: ['db', 'pg', 'pg-1'] });
    // postgres is down: the filesystem figures are there, the SQL facts are errors.
    expect(base('cnpg_disk_probe_errors')?.value).toBeGreaterThan(0);
  });

  it('the status document over HTTP is the probe report, and says postgres could not be reached', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port: statusPort, path: '/status' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      }).on('error', reject);
    });
    const decoded = decodeProbeReport(JSON.parse(body));
    if (!decoded.ok) throw new Error(decoded.problems.join('; '));
    expect(decoded.value.instance).toBe('pg-1');
    expect(decoded.value.volumes.map((v) => v.type)).toEqual(['data', 'wal']);
    expect(decoded.value.errors.map((e) => e.field)).toContain('postgres');
  });

  it('healthcheck: 0 on the live socket, 1 on a missing one', async () => {
    const io = { stdout: () => undefined, stderr: () => undefined };
    expect((await main(['healthcheck', '--socket', socket], {}, io)).code).toBe(0);
    expect((await main(['healthcheck', '--socket', join(dir, 'nothing')], {}, io)).code).toBe(1);
  });
});
