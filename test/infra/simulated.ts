// Simulated nodes and pods: real Node/Pod objects in the real API server whose
// status points at test hosts (testhost.ts), so the API server's own node
// proxy and pod proxy reach a handler written by the test.
//
//   node proxy: GET /api/v1/nodes/NAME/proxy/stats/summary
//     -> apiserver dials https://<InternalIP>:<kubeletEndpoint.Port>/stats/summary,
//        presenting its --kubelet-client-certificate and verifying the
//        "kubelet" serving cert against the cluster CA (like a real cluster).
//   pod proxy:  GET /api/v1/namespaces/NS/pods/[https:]NAME:8000/proxy/pg/status
//     -> apiserver dials <podIP>:8000/pg/status (https without verification).
//
// What is simulated: the kubelet and the CNPG instance manager (the handlers),
// and the status fields a kubelet would report. Nothing else writes them.
import type { ApiServerHandle } from './apiserver.js';
import type { TestHandler, TestHost, TestNetwork } from './testhost.js';

export interface SimulatedNode {
  readonly name: string;
  readonly host: TestHost;
}

export interface SimulatedNodeOptions {
  readonly name: string;
  /** The "kubelet": serves e.g. /stats/summary. */
  readonly handler: TestHandler;
  readonly labels?: Readonly<Record<string, string>>;
  /** Kubelet port, default 10250. */
  readonly port?: number;
}

async function must(what: string, p: Promise<{ status: number; body: string }>, ok: readonly number[]): Promise<void> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status}: ${r.body.slice(0, 400)}`);
}

/** Creates Node NAME with InternalIP + kubelet port of a new HTTPS test host. */
export async function addSimulatedNode(
  api: ApiServerHandle,
  network: TestNetwork,
  opts: SimulatedNodeOptions,
): Promise<SimulatedNode> {
  const host = await network.startHost(opts.handler, {
    port: opts.port ?? 10250,
    tls: (ip) => api.issueServingCert({ ipAddresses: [ip], dnsNames: [opts.name] }),
    requestCert: true,
    ca: api.caCertPem,
  });
  try {
    await must(
      `create node ${opts.name}`,
      api.request('POST', '/api/v1/nodes', {
        body: { apiVersion: 'v1', kind: 'Node', metadata: { name: opts.name, labels: opts.labels ?? {} } },
      }),
      [201],
    );
    const now = new Date().toISOString();
    await must(
      `set status of node ${opts.name}`,
      api.request('PATCH', `/api/v1/nodes/${opts.name}/status`, {
        contentType: 'application/merge-patch+json',
        body: {
          status: {
            addresses: [
              { type: 'InternalIP', address: host.ip },
              { type: 'Hostname', address: opts.name },
            ],
            daemonEndpoints: { kubeletEndpoint: { Port: host.port } },
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'simulated',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
          },
        },
      }),
      [200],
    );
  } catch (e) {
    await host.close();
    throw e;
  }
  return { name: opts.name, host };
}

export interface SimulatedPodOptions {
  readonly namespace: string;
  readonly name: string;
  /** The "container" on containerPort: e.g. the instance manager's /pg/status. */
  readonly handler: TestHandler;
  /** Default 8000 (the CNPG instance manager status port). */
  readonly containerPort?: number;
  /** Serve HTTPS (cert from the cluster CA); default false. */
  readonly tls?: boolean;
  readonly nodeName?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Extra pod spec fields (merged over the minimal one-container spec). */
  readonly spec?: Readonly<Record<string, unknown>>;
}

export interface SimulatedPod {
  readonly namespace: string;
  readonly name: string;
  readonly host: TestHost;
}

/** Ensures the namespace exists. */
export async function ensureNamespace(api: ApiServerHandle, name: string): Promise<void> {
  await must(
    `create namespace ${name}`,
    api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } }),
    [201, 409],
  );
}

/** Creates a Running pod whose status.podIP is a new test host serving `handler`. */
export async function addSimulatedPod(
  api: ApiServerHandle,
  network: TestNetwork,
  opts: SimulatedPodOptions,
): Promise<SimulatedPod> {
  const port = opts.containerPort ?? 8000;
  const host = await network.startHost(opts.handler, {
    port,
    ...(opts.tls ? { tls: (ip: string) => api.issueServingCert({ ipAddresses: [ip], dnsNames: [opts.name] }) } : {}),
  });
  try {
    await ensureNamespace(api, opts.namespace);
    await must(
      `create pod ${opts.namespace}/${opts.name}`,
      api.request('POST', `/api/v1/namespaces/${opts.namespace}/pods`, {
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: opts.name,
            namespace: opts.namespace,
            labels: opts.labels ?? {},
            annotations: opts.annotations ?? {},
          },
          spec: {
            ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
            containers: [
              {
                name: 'postgres',
                image: 'simulated.invalid/postgres:test',
                ports: [{ name: 'status', containerPort: port, protocol: 'TCP' }],
              },
            ],
            ...(opts.spec ?? {}),
          },
        },
      }),
      [201],
    );
    const now = new Date().toISOString();
    await must(
      `set status of pod ${opts.namespace}/${opts.name}`,
      api.request('PATCH', `/api/v1/namespaces/${opts.namespace}/pods/${opts.name}/status`, {
        contentType: 'application/merge-patch+json',
        body: {
          status: {
            phase: 'Running',
            podIP: host.ip,
            podIPs: [{ ip: host.ip }],
            startTime: now,
            conditions: [
              { type: 'Ready', status: 'True', lastTransitionTime: now },
              { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
            ],
          },
        },
      }),
      [200],
    );
  } catch (e) {
    await host.close();
    throw e;
  }
  return { namespace: opts.namespace, name: opts.name, host };
}
