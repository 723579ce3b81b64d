/**
 * The `probe` source: the status document of the cnpg-disk-probe sidecar that
 * the CNPG-I plugin adds to instance Pods (docs/plugin.md), read through the
 * API server's pod proxy (`get pods/proxy`):
 *
 *   GET /api/v1/namespaces/NS/pods/POD:9188/proxy/status
 *
 * It is the probe's ProbeReport (docs/probe.md): statfs of every mount, the
 * `.ready` backlog and pg_wal size read from the filesystem, archiver and
 * slots over SQL. The sidecar keeps running while postgres restarts, so this
 * source answers for a crash-looping instance too. The report is decoded with
 * core's decoder (untrusted input: every field checked) and must name the pod
 * it was read from.
 *
 * This file is the pure part: which pods have the sidecar, and the document →
 * facts. The request itself is the pod proxy's.
 */
import { decodeProbeReport, type FilesystemFacts, type VolumeType, type WalHealth } from '@cnpg-disk/core';
import { arr, get, str } from '../model/kube-objects.js';
import type { KubeObject } from '../model/snapshot.js';

/** The sidecar's container name and port (as the plugin's lifecycle hook sets them). */
export const PROBE_SIDECAR = 'cnpg-disk-probe';
export const PROBE_PORT = 9188;
export const PROBE_PORT_NAME = 'disk-status';
/** WalHealth.source of facts from the sidecar. */
export const PROBE_SOURCE = 'probe';

export interface ProbeSidecar {
  port: number;
  /** The container is running now (its status says so). */
  running: boolean;
}

/**
 * The probe sidecar of a Pod, when it has one: a native sidecar (init
 * container with `restartPolicy: Always`) or a plain container named
 * cnpg-disk-probe.
 */
export function probeSidecarOf(pod: KubeObject): ProbeSidecar | undefined {
  const inits = arr(get(pod, 'spec'), 'initContainers').filter(
    (c) => str(c, 'name') === PROBE_SIDECAR && str(c, 'restartPolicy') === 'Always',
  );
  const containers = arr(get(pod, 'spec'), 'containers').filter((c) => str(c, 'name') === PROBE_SIDECAR);
  const c = inits[0] ?? containers[0];
  if (!c) return undefined;
  const ports = arr(c, 'ports');
  const named = ports.find((p) => str(p, 'name') === PROBE_PORT_NAME) ?? ports[0];
  const port = get(named, 'containerPort');
  const statuses = [
    ...arr(get(pod, 'status'), 'initContainerStatuses'),
    ...arr(get(pod, 'status'), 'containerStatuses'),
  ];
  const status = statuses.find((s) => str(s, 'name') === PROBE_SIDECAR);
  return {
    port: typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536 ? port : PROBE_PORT,
    running: get(status, 'state', 'running') !== undefined,
  };
}

export interface ProbeVolumeFacts {
  type: VolumeType;
  tablespace?: string;
  facts: FilesystemFacts;
}

export interface ProbeStatusFacts {
  volumes: ProbeVolumeFacts[];
  wal?: WalHealth;
  /** What the document could not give (one sentence each, naming the pod). */
  errors: string[];
}

/** At most this many of the probe's own errors are passed on per pod (the rest are counted). */
const MAX_REPORTED_ERRORS = 5;

/** The sidecar's status document → facts. Never throws: a bad document is one error. */
export function parseProbeStatus(body: string, pod: string): ProbeStatusFacts {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { volumes: [], errors: [`the probe sidecar of ${pod} answered with something that is not JSON`] };
  }
  const decoded = decodeProbeReport(doc);
  if (!decoded.ok) {
    const first = decoded.problems.slice(0, 3).join('; ');
    return { volumes: [], errors: [`the probe sidecar of ${pod} sent an invalid report: ${first}`] };
  }
  const report = decoded.value;
  if (report.instance !== pod) {
    return {
      volumes: [],
      errors: [`the probe sidecar of ${pod} reports for instance ${JSON.stringify(report.instance)}: not used`],
    };
  }
  const volumes: ProbeVolumeFacts[] = [];
  for (const v of report.volumes) {
    if (!v.filesystem) continue;
    volumes.push({
      type: v.type,
      ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}),
      facts: { ...v.filesystem, source: PROBE_SOURCE, observedAt: v.filesystem.observedAt ?? report.observedAt },
    });
  }
  const errors = report.errors
    .slice(0, MAX_REPORTED_ERRORS)
    .map((e) => `the probe sidecar of ${pod} could not measure ${e.field}: ${e.message}`);
  if (report.errors.length > MAX_REPORTED_ERRORS) {
    errors.push(`the probe sidecar of ${pod} reported ${report.errors.length - MAX_REPORTED_ERRORS} more problem(s)`);
  }
  const wal: WalHealth = {
    ...report.wal,
    instance: pod,
    source: PROBE_SOURCE,
    observedAt: report.wal.observedAt ?? report.observedAt,
  };
  return { volumes, wal, errors };
}
