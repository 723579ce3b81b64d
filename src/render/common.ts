/**
 * Shared rendering pieces: findings, sources, human sizes.
 */
import { formatBytesHuman } from '@cnpg-disk/core';
import type { IOStreams } from '../cli/io.js';
import { paint } from '../cli/output.js';
import type { Finding } from '../analysis/findings.js';
import type { Snapshot } from '../snapshot/types.js';

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
    const head = `${severityLabel(io, f.severity)}  ${f.subject}  ${f.message}`;
    return withCommands && f.command ? `${head}\n    → ${f.command}` : head;
  });
  return lines.join('\n') + '\n';
}

/** One line (stderr) saying which sources answered and which were denied, and the fix. */
export function sourcesLine(snapshot: Snapshot, verbose: boolean): string {
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
