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

/** Several kubeconfig contexts read in one run: their names, and a dependency bag per context. */
export interface ContextDepsSet {
  /** The contexts, in the order asked (or the kubeconfig's, for --all-contexts), each once. */
  names: string[];
  /** The shared terminal and clock. */
  io: IOStreams;
  now: () => Date;
  /**
   * The bag of one context: its own Kubernetes client (made on first use:
   * a context whose cluster entry is missing fails there, alone), the shared
   * clock, and the terminal without a spinner of its own (the caller shows
   * one for the whole run).
   */
  depsFor(name: string): Deps;
}

/** The dependency bags of `--context a,b` / `--all-contexts`: the kubeconfig is read and every name checked now. */
export async function contextDepsSet(
  opts: Omit<KubeOptions, 'context'> & { noColor?: boolean; contexts: readonly string[] | 'all' },
): Promise<ContextDepsSet> {
  const io = systemIO({ noColor: opts.noColor ?? false });
  const now = () => new Date();
  const { KubeClient, loadKubeContexts } = await import('../kube/client.js');
  const contexts = loadKubeContexts(opts, opts.contexts);
  const quiet: IOStreams = { ...io, spinner: () => ({ update: () => undefined, stop: () => undefined }) };
  return {
    names: contexts.names,
    io,
    now,
    depsFor(name: string): Deps {
      let client: KubeClient | undefined;
      return {
        io: quiet,
        now,
        kube: () => (client ??= new KubeClient(contexts.forContext(name), opts.requestTimeoutMs ?? 0)),
      };
    },
  };
}
