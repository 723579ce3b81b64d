/**
 * The CNPG-I services this plugin implements, as plain handler objects for
 * @grpc/grpc-js (servers.ts binds them to a transport).
 *
 * Two faces of one plugin, with the same name:
 *  - operator side (the Deployment, reached by the operator over mutual TLS):
 *    Identity, Operator (Cluster validation), OperatorLifecycle (the sidecar);
 *  - instance side (the sidecar, reached by the instance manager on the unix
 *    socket /plugins/<name>): Identity and Metrics.
 *
 * The operator puts a plugin's operator-side capabilities in the Cluster's
 * status; the instance manager loads plugins that declare
 * TYPE_INSTANCE_SIDECAR_INJECTION there, from their sockets. So the operator
 * side declares it, and the sidecar declares TYPE_METRICS.
 */
import * as grpc from '@grpc/grpc-js';
import { PLUGIN_NAME } from '@cnpg-disk/core';
import type { Measurement } from '@cnpg-disk/probe';
import { RequestError, instancePodPatch, parseJsonObject, type SidecarOptions } from './lifecycle.js';
import { collectMetrics, defineMetrics } from './metrics.js';
import { validateCluster } from './validation.js';

export const PLUGIN_VERSION = '0.1.0';

export type Log = (event: string, fields?: Record<string, unknown>) => void;

type Handler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;
export type Handlers = Record<string, Handler>;

/** A handler from a function of the request: a RequestError is INVALID_ARGUMENT, any other error INTERNAL, with its message. */
function unary<Req>(fn: (req: Req) => unknown | Promise<unknown>, log: Log, method: string): Handler {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request as Req))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          log('rpc-error', { method, message });
          callback({
            code: err instanceof RequestError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL,
            details: message,
          });
        },
      );
  };
}

const METADATA = {
  name: PLUGIN_NAME,
  version: PLUGIN_VERSION,
  displayName: 'cnpg-disk',
  description:
    'Disk space of CloudNativePG instances: measures every volume from a sidecar, exports the figures on the instance metrics endpoint, validates the resize policy given as plugin parameters.',
  projectUrl: '',
  repositoryUrl: '',
  license: 'Apache-2.0',
  licenseUrl: 'https://www.apache.org/licenses/LICENSE-2.0',
  maturity: 'alpha',
  vendor: '',
  manifest: {},
};

const capabilities = (...types: string[]) => ({
  capabilities: types.map((type) => ({ service: { type } })),
});

function identity(side: 'operator' | 'instance', log: Log, ready: () => boolean): Handlers {
  const caps =
    side === 'operator'
      ? capabilities('TYPE_OPERATOR_SERVICE', 'TYPE_LIFECYCLE_SERVICE', 'TYPE_INSTANCE_SIDECAR_INJECTION')
      : capabilities('TYPE_METRICS');
  return {
    GetPluginMetadata: unary(() => METADATA, log, 'GetPluginMetadata'),
    GetPluginCapabilities: unary(() => caps, log, 'GetPluginCapabilities'),
    Probe: unary(() => ({ ready: ready() }), log, 'Probe'),
  };
}

interface LifecycleRequest {
  operationType?: { type?: string };
  clusterDefinition?: Buffer;
  objectDefinition?: Buffer;
}

export interface OperatorServices {
  Identity: Handlers;
  Operator: Handlers;
  OperatorLifecycle: Handlers;
}

export function operatorServices(sidecar: SidecarOptions, log: Log): OperatorServices {
  const validate = (definition: Buffer | undefined) => ({
    validationErrors: validateCluster(parseJsonObject(definition, 'the Cluster definition')),
  });
  return {
    Identity: identity('operator', log, () => true),
    Operator: {
      GetCapabilities: unary(
        () => ({
          capabilities: ['TYPE_VALIDATE_CLUSTER_CREATE', 'TYPE_VALIDATE_CLUSTER_CHANGE'].map((type) => ({
            rpc: { type },
          })),
        }),
        log,
        'Operator.GetCapabilities',
      ),
      ValidateClusterCreate: unary<{ definition?: Buffer }>(
        (r) => validate(r.definition),
        log,
        'ValidateClusterCreate',
      ),
      ValidateClusterChange: unary<{ newCluster?: Buffer }>(
        (r) => validate(r.newCluster),
        log,
        'ValidateClusterChange',
      ),
      // Not declared in the capabilities, so the operator never calls them; answered as no-ops.
      MutateCluster: unary(() => ({}), log, 'MutateCluster'),
      SetStatusInCluster: unary(() => ({}), log, 'SetStatusInCluster'),
      Deregister: unary(() => ({}), log, 'Deregister'),
    },
    OperatorLifecycle: {
      GetCapabilities: unary(
        () => ({
          lifecycleCapabilities: [
            {
              group: '',
              kind: 'Pod',
              operationTypes: [{ type: 'TYPE_CREATE' }, { type: 'TYPE_EVALUATE' }],
            },
          ],
        }),
        log,
        'OperatorLifecycle.GetCapabilities',
      ),
      LifecycleHook: unary<LifecycleRequest>(
        (r) => {
          const operation = r.operationType?.type ?? 'TYPE_UNSPECIFIED';
          if (operation !== 'TYPE_CREATE' && operation !== 'TYPE_EVALUATE') return {};
          const pod = parseJsonObject(r.objectDefinition, 'the object definition');
          const cluster = parseJsonObject(r.clusterDefinition, 'the Cluster definition');
          const result = instancePodPatch(pod, cluster, sidecar);
          const meta = (pod['metadata'] ?? {}) as Record<string, unknown>;
          log('lifecycle', {
            operation,
            pod: `${String(meta['namespace'] ?? '')}/${String(meta['name'] ?? '')}`,
            ops: result.patch.length,
            ...(result.skipped ? { skipped: result.skipped } : {}),
          });
          return result.patch.length === 0 ? {} : { jsonPatch: Buffer.from(JSON.stringify(result.patch)) };
        },
        log,
        'LifecycleHook',
      ),
    },
  };
}

export interface InstanceServices {
  Identity: Handlers;
  Metrics: Handlers;
}

/** `measure` is shared with the status endpoint (one measurement serves a burst of callers). */
export function instanceServices(measure: () => Promise<Measurement>, log: Log): InstanceServices {
  return {
    Identity: identity('instance', log, () => true),
    Metrics: {
      GetCapabilities: unary(
        () => ({ capabilities: [{ rpc: { type: 'TYPE_METRICS' } }] }),
        log,
        'Metrics.GetCapabilities',
      ),
      Define: unary(() => ({ metrics: defineMetrics() }), log, 'Define'),
      Collect: unary(async () => ({ metrics: collectMetrics(await measure()) }), log, 'Collect'),
    },
  };
}
