/**
 * Shared rendering pieces: findings, sources, human sizes.
 */
import { formatBytesHuman, type UsageForecast } from '@cnpg-disk/core';
import type { IOStreams } from '../cli/io.js';
import { paint } from './printer.js';
import type { Finding } from '../analysis/findings.js';
import type { Snapshot } from '../model/snapshot.js';
import { sanitize } from './sanitize.js';

export function human(b: bigint | undefined): string {
  return b === undefined ? '-' : formatBytesHuman(b);
}

export function pct(n: number | undefined): string {
  return n === undefined ? '-' : `${n.toFixed(1)}%`;
}

/**
 * USE% of a volume: measured, or "full (exit 4)" when nothing measured it but
 * CloudNativePG stopped its instance for want of WAL space.
 */
export function usageText(v: { filesystem?: { percentUsed: number }; walSpaceExhausted?: object }): string {
  if (!v.filesystem && v.walSpaceExhausted) return 'full (exit 4)';
  return pct(v.filesystem?.percentUsed);
}

/** "2d3h", "5h12m", "7m30s", "45s": the two largest units, rounded down. */
export function durationText(ms: number): string {
  const total = Math.floor(ms / 1000);
  if (total <= 0) return 'now';
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = total;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) parts.push(`${n}${name}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.filter((p) => !p.startsWith('0')).join('') || `${total}s`;
}

/**
 * GROWTH/H and FULL IN of `disk status --watch`: "-" until two measurements
 * exist; "never" when the volume is not growing.
 */
export function forecastCells(f: UsageForecast | undefined): [string, string] {
  if (!f || f.bytesPerHour === undefined) return ['-', '-'];
  const rate = BigInt(Math.round(f.bytesPerHour));
  const growth = rate === 0n ? '0' : `${rate > 0n ? '+' : '-'}${formatBytesHuman(rate > 0n ? rate : -rate)}`;
  return [growth, f.msToFull === undefined ? 'never' : durationText(f.msToFull)];
}

export function severityLabel(io: IOStreams, s: Finding['severity']): string {
  const text = s.toUpperCase();
  return s === 'critical'
    ? paint(io, 'red', text)
    : s === 'warning'
      ? paint(io, 'yellow', text)
      : paint(io, 'dim', text);
}

export function renderFindings(io: IOStreams, findings: Finding[], withCommands = true): string {
  if (findings.length === 0) return '';
  const lines = findings.map((f) => {
    const head = `${severityLabel(io, f.severity)}  ${sanitize(f.subject)}  ${sanitize(f.message)}`;
    return withCommands && f.command ? `${head}\n    → ${sanitize(f.command)}` : head;
  });
  return lines.join('\n') + '\n';
}

/** One line (stderr) saying which sources answered and which were denied, and the fix. */
export function sourcesLine(snapshot: Snapshot, verbose: boolean): string {
  return sanitize(sourcesText(snapshot, verbose), { keepNewlines: true });
}

function sourcesText(snapshot: Snapshot, verbose: boolean): string {
  if (snapshot.origin.kind === 'bundle') {
    return `source: bundle ${snapshot.origin.file} (collected ${snapshot.collectedAt}${snapshot.origin.collectedFrom ? ` from ${snapshot.origin.collectedFrom}` : ''})\n`;
  }
  const used = snapshot.sources
    .filter((s) => s.outcome === 'used')
    .map((s) => `${s.source} (${s.fact}${s.detail ? `, ${s.detail}` : ''})`);
  // One line per source and permission (a source may be denied for several facts).
  const denied = snapshot.sources
    .filter((s) => s.outcome === 'denied')
    .filter((s, i, all) => all.findIndex((x) => x.source === s.source && x.permission === s.permission) === i);
  const other = snapshot.sources.filter((s) => s.outcome !== 'used' && s.outcome !== 'denied');
  let out = `sources: ${used.length ? used.join('; ') : 'none answered'}\n`;
  for (const d of denied) out += `  denied: ${d.source} — grant "${d.permission}" to use it\n`;
  if (verbose) {
    for (const o of other)
      out += `  ${o.outcome}: ${o.source}${o.scope ? ` ${o.scope}` : ''}${o.detail ? ` — ${o.detail}` : ''}\n`;
    for (const p of snapshot.problems) out += `  problem: ${p}\n`;
  }
  return out;
}
