/**
 * The dependency bag: built once per run, with lazy getters, so tests can
 * swap the Kubernetes client, the clock or the terminal.
 */
import { KubeClient, loadKubeConfig, type KubeOptions } from '../kube/client.js';
import { systemIO, type IOStreams } from './io.js';

export interface Deps {
  io: IOStreams;
  now: () => Date;
  kube: () => KubeClient;
}

export function defaultDeps(opts: KubeOptions & { noColor?: boolean }): Deps {
  let client: KubeClient | undefined;
  return {
    io: systemIO({ noColor: opts.noColor ?? false }),
    now: () => new Date(),
    kube: () => (client ??= new KubeClient(loadKubeConfig(opts), opts.requestTimeoutMs ?? 0)),
  };
}
