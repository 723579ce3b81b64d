/**
 * pods/exec as one call: stdout, stderr and the exit code, with a timeout.
 * client-node's Exec.exec resolves when the WebSocket opens, not when the
 * command ends; the exit status arrives later in a V1Status.
 */
import { Writable } from 'node:stream';
import type { V1Status } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { KubeApiError, toKubeError } from './errors.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Caps what we keep of a command's output (a runaway command must not eat memory). */
const MAX_OUTPUT = 4 * 1024 * 1024;

function sink(chunks: Buffer[]): Writable {
  let size = 0;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (size < MAX_OUTPUT) chunks.push(chunk);
      size += chunk.length;
      cb();
    },
  });
}

function exitCodeOf(status: V1Status): number {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const n = Number(cause?.message);
  return Number.isInteger(n) ? n : -1;
}

/** Success, or a Failure that carries the command's exit code (NonZeroExitCode). */
function ranToCompletion(status: V1Status): boolean {
  return status.status === 'Success' || !!status.details?.causes?.some((c) => c.reason === 'ExitCode');
}

export async function execInPod(
  client: KubeClient,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
  timeoutMs = 15_000,
): Promise<ExecResult> {
  client.requests.push({ method: 'POST', url: `exec ${namespace}/${pod}` });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  // The shared agent: the WebSocket resumes the run's TLS session instead of a new context and full handshake.
  // Loaded here, not at the top: client-node's main module is heavy and a read-only run never execs.
  const { Exec } = await import('@kubernetes/client-node');
  const exec = new Exec(await client.streamingKubeConfig());
  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new KubeApiError('pods/exec', undefined, 'Timeout', `exec in ${pod} timed out`))),
      timeoutMs,
    );
    exec
      .exec(namespace, pod, container, command, sink(out), sink(err), null, false, (status: V1Status) => {
        if (!ranToCompletion(status)) {
          // A Failure without an exit code: the command never ran (the
          // kubelet refused the upgrade, the container is gone, ...).
          finish(() =>
            reject(
              new KubeApiError(
                'pods/exec',
                status.code,
                status.reason,
                `exec in ${pod} could not run: ${status.message ?? status.reason ?? 'unknown failure'}`,
              ),
            ),
          );
          return;
        }
        finish(() =>
          resolve({
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
            exitCode: exitCodeOf(status),
          }),
        );
      })
      .then((ws) => {
        ws.on('close', () =>
          // Closed without a status: the command could not run to completion.
          setTimeout(
            () =>
              finish(() =>
                reject(
                  new KubeApiError('pods/exec', undefined, 'Closed', `exec in ${pod} closed without an exit status`),
                ),
              ),
            50,
          ),
        );
      })
      .catch((e: unknown) => finish(() => reject(toKubeError('pods/exec', e))));
  });
}
