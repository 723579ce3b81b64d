/**
 * disk status --watch: evaluate again every interval, keep each volume's
 * recent measurements, and show the growth rate and a time-to-full estimate
 * (packages/core forecastUsage) beside the usual figures.
 *
 * Output per refresh: on a terminal the screen is redrawn (like watch(1));
 * otherwise each table follows the last under a time line; JSON is one
 * compact document per line (NDJSON), YAML one document per `---`.
 * Ends on SIGINT/SIGTERM (or after --count refreshes) with the exit code of
 * the last refresh.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { appendSample, forecastUsage, type UsageForecast, type UsageSample } from '@cnpg-disk/core';
import type { Deps } from '../cli/deps.js';
import { CliError, ExitCode, exitCodeForSeverities } from '../model/errors.js';
import { KubeApiError } from '../kube/errors.js';
import { paint, printResult } from '../render/printer.js';
import { evaluateStatus, printStatus, statusDocument, volumeKey, type DiskStatusOptions } from './disk-status.js';
import type { ClusterReport } from '../analysis/evaluate.js';

export interface WatchOptions extends DiskStatusOptions {
  intervalMs: number;
  /** Stop after this many refreshes; undefined: until interrupted. */
  count?: number;
  /** Interrupts the wait between refreshes (SIGINT in the command). */
  signal?: AbortSignal;
}

/** Adds this refresh's measurements to the histories and returns every volume's forecast. */
export function recordSamples(
  history: Map<string, UsageSample[]>,
  reports: ClusterReport[],
  fallbackAt: number,
): Map<string, UsageForecast> {
  const forecasts = new Map<string, UsageForecast>();
  for (const v of reports.flatMap((r) => r.volumes)) {
    const key = volumeKey(v);
    const fs = v.filesystem;
    let h = history.get(key) ?? [];
    if (fs) {
      const observed = fs.observedAt ? Date.parse(fs.observedAt) : NaN;
      h = appendSample(h, {
        at: Number.isNaN(observed) ? fallbackAt : observed,
        usedBytes: fs.usedBytes,
        availableBytes: fs.availableBytes,
      });
      history.set(key, h);
    }
    forecasts.set(key, forecastUsage(h));
  }
  return forecasts;
}

export async function watchDiskStatus(opts: WatchOptions, deps: Deps): Promise<ExitCode> {
  const { io } = deps;
  const history = new Map<string, UsageSample[]>();
  const every = `${Math.round(opts.intervalMs / 100) / 10}s`;
  let code: ExitCode | undefined;
  for (let refresh = 1; ; refresh++) {
    const started = deps.now();
    try {
      const e = await evaluateStatus(opts, deps);
      const forecasts = recordSamples(history, e.reports, Date.parse(e.snapshot.collectedAt));
      code = exitCodeForSeverities(e.findings.map((f) => f.severity));
      printResult(
        io,
        opts.output,
        {
          document: () => statusDocument(e.snapshot, e.reports, opts.verbose, forecasts),
          text: () => {
            // A terminal gets a redrawn screen; a pipe or file gets one block per refresh.
            if (io.isStdoutTTY) io.stdout('\u001b[H\u001b[2J');
            io.stdout(
              paint(io, 'dim', `Every ${every}: disk status, ${started.toISOString()} (refresh ${refresh})`) + '\n',
            );
            printStatus(io, opts, e, forecasts);
            if (!io.isStdoutTTY) io.stdout('\n');
          },
        },
        { stream: true },
      );
    } catch (err) {
      // The first evaluation decides whether watching makes sense at all; a
      // later failure (API briefly unreachable) is reported and retried.
      const transient = (err instanceof CliError && err.exitCode === ExitCode.UNKNOWN) || err instanceof KubeApiError;
      if (code === undefined || !transient) throw err;
      io.stderr(`refresh ${refresh} at ${started.toISOString()} failed: ${err.message}; next in ${every}\n`);
    }
    if (opts.count !== undefined && refresh >= opts.count) break;
    try {
      await sleep(opts.intervalMs, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      break; // interrupted
    }
  }
  return code ?? ExitCode.UNKNOWN;
}
