/**
 * The dependency bag: built once per run, with lazy getters, so tests can
 * swap the Kubernetes client, the clock or the terminal.
 */
import type { KubeClient, KubeOptions } from '../kube/client.js';
import { systemIO, type IOStreams } from './io.js';

export interface Deps {
  io: IOStreams;
  now: () => Date;
  kube: () => KubeClient;
}

/**
 * `offline`: the run reads no cluster (a bundle, a policy file), so the
 * Kubernetes client — @kubernetes/client-node is most of the CLI's start-up
 * time — is never loaded; asking for it then is a bug, said as one.
 */
export async function defaultDeps(opts: KubeOptions & { noColor?: boolean; offline?: boolean }): Promise<Deps> {
  const base = { io: systemIO({ noColor: opts.noColor ?? false }), now: () => new Date() };
  if (opts.offline) {
    return {
      ...base,
      kube: () => {
        throw new Error('no Kubernetes client in an offline run (a bundle or a file was given)');
      },
    };
  }
  const { KubeClient, loadKubeConfig } = await import('../kube/client.js');
  let client: KubeClient | undefined;
  return {
    ...base,
    kube: () => (client ??= new KubeClient(loadKubeConfig(opts), opts.requestTimeoutMs ?? 0)),
  };
}
