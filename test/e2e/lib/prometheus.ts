// A real Prometheus (the `prometheus` binary on PATH: Debian's 2.42 here)
// for the end-to-end files: a local process in its own temporary directory
// on a free port, scraping pods through the API server's pod proxy with the
// client certificate, key and CA of the suite's kubeconfig (the same path
// `kubectl get --raw …/proxy/metrics` takes), and evaluating a rules file.
// Stopped (and its directory removed) by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freePort } from '../../infra/proc.js';
import { waitFor } from './kube.js';

/** One pod's HTTP endpoint, scraped through the API server. */
export interface PodTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly port: number;
  readonly path: string;
}

export interface StartOptions {
  readonly kubeconfig: string;
  readonly jobName: string;
  readonly targets: readonly PodTarget[];
  /** A Prometheus rules file (`{ groups: [...] }`), written as JSON (which is YAML). */
  readonly rules?: unknown;
  /** Scrape and rule-evaluation interval (default 2s). */
  readonly interval?: string;
}

export interface Alert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'inactive' | 'pending' | 'firing';
  readonly activeAt?: string;
  readonly value?: string;
}

export interface QueryResponse {
  readonly status: string;
  readonly errorType?: string;
  readonly error?: string;
  readonly data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

interface KubeconfigDoc {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: {
    name: string;
    cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string };
  }[];
  users?: {
    name: string;
    user: {
      'client-certificate-data'?: string;
      'client-certificate'?: string;
      'client-key-data'?: string;
      'client-key'?: string;
    };
  }[];
}

/**
 * The API server's address and the files Prometheus's tls_config needs, from
 * the kubeconfig's current context (embedded data written into `dir`, paths
 * used as they are). Only client-certificate identities: a token would need
 * authorization instead.
 */
function apiServerTls(kubeconfig: string, dir: string): { host: string; ca: string; cert: string; key: string } {
  const doc = parse(readFileSync(kubeconfig, 'utf8')) as KubeconfigDoc;
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context'])?.context;
  const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === ctx?.user)?.user;
  if (!cluster || !user) throw new Error(`${kubeconfig}: no cluster or user for the current context`);
  const file = (data: string | undefined, path: string | undefined, name: string): string => {
    if (data) {
      const f = join(dir, name);
      writeFileSync(f, Buffer.from(data, 'base64'), { mode: 0o600 });
      return f;
    }
    if (path) return path;
    throw new Error(`${kubeconfig}: the current context has no ${name} (a client certificate is needed)`);
  };
  return {
    host: new URL(cluster.server).host,
    ca: file(cluster['certificate-authority-data'], cluster['certificate-authority'], 'ca.crt'),
    cert: file(user['client-certificate-data'], user['client-certificate'], 'client.crt'),
    key: file(user['client-key-data'], user['client-key'], 'client.key'),
  };
}

export class LocalPrometheus {
  private log = '';

  private constructor(
    readonly url: string,
    private readonly dir: string,
    private readonly proc: ChildProcess,
  ) {
    proc.stdout?.on('data', (c: Buffer) => (this.log += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (this.log += c.toString()));
  }

  /** Starts Prometheus and waits until it is ready and has scraped every target once. */
  static async start(o: StartOptions): Promise<LocalPrometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'cnpg-e2e-prometheus-'));
    try {
      const tls = apiServerTls(o.kubeconfig, dir);
      const interval = o.interval ?? '2s';
      const rulesFile = join(dir, 'rules.yaml');
      if (o.rules !== undefined) writeFileSync(rulesFile, JSON.stringify(o.rules, null, 1));
      const config = {
        global: { scrape_interval: interval, evaluation_interval: interval },
        ...(o.rules !== undefined ? { rule_files: [rulesFile] } : {}),
        scrape_configs: [
          {
            job_name: o.jobName,
            scheme: 'https',
            tls_config: { ca_file: tls.ca, cert_file: tls.cert, key_file: tls.key },
            // One target per pod: the same API server address, its own proxy path,
            // and the pod's name as `instance` (else every target would be the API server).
            static_configs: o.targets.map((t) => ({
              targets: [tls.host],
              labels: {
                __metrics_path__: `/api/v1/namespaces/${t.namespace}/pods/${t.pod}:${t.port}/proxy${t.path}`,
                instance: t.pod,
              },
            })),
          },
        ],
      };
      const configFile = join(dir, 'prometheus.yml');
      writeFileSync(configFile, JSON.stringify(config, null, 1));
      const port = await freePort();
      const proc = spawn(
        'prometheus',
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const prom = new LocalPrometheus(`http://127.0.0.1:${port}`, dir, proc);
      await waitFor(
        'Prometheus ready',
        60_000,
        async () => ((await fetch(`${prom.url}/-/ready`)).ok ? true : undefined),
        async () => prom.recentLog(),
        500,
      );
      await waitFor(
        `every ${o.jobName} target scraped and up`,
        60_000,
        async () => {
          const r = await prom.query(`up{job="${o.jobName}"} == 1`);
          return (r.data?.result.length ?? 0) === o.targets.length ? true : undefined;
        },
        async () => `${JSON.stringify(await prom.targets())}\n${prom.recentLog()}`,
        1_000,
      );
      return prom;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  async query(q: string): Promise<QueryResponse> {
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    return (await r.json()) as QueryResponse;
  }

  async alerts(): Promise<Alert[]> {
    const r = await fetch(`${this.url}/api/v1/alerts`);
    return ((await r.json()) as { data: { alerts: Alert[] } }).data.alerts;
  }

  /** `label_values(metric, label)` as Grafana asks it: the label's values on that metric. */
  async labelValues(metric: string, label: string): Promise<string[]> {
    const r = await fetch(`${this.url}/api/v1/label/${label}/values?match[]=${encodeURIComponent(metric)}`);
    return ((await r.json()) as { data: string[] }).data;
  }

  async targets(): Promise<unknown> {
    const r = await fetch(`${this.url}/api/v1/targets`);
    return ((await r.json()) as { data: { activeTargets: unknown[] } }).data.activeTargets;
  }

  recentLog(chars = 3000): string {
    return this.log.slice(-chars);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
