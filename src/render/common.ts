/**
 * Shared rendering pieces: findings, sources, human sizes.
 */
import { formatBytesHuman, type UsageForecast } from '@cnpg-disk/core';
import type { IOStreams } from '../cli/io.js';
import { paint } from './printer.js';
import { wrapHanging } from './table.js';
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

/**
 * The command a person just ran, so a finding's hint does not send them back
 * to it: `command` is the subcommand ("disk status", "wal health",
 * "diagnose"); a hint that runs it again is shown only when it adds what this
 * run did not do (`--apply`, `-v`).
 */
export interface RanCommand {
  command: string;
  verbose?: boolean;
  apply?: boolean;
}

/** The hint to print under a finding, or undefined when it would repeat the command just run. */
export function hintFor(f: Pick<Finding, 'command'>, ran: RanCommand | undefined): string | undefined {
  const hint = f.command;
  if (hint === undefined || ran === undefined) return hint;
  if (!hint.startsWith(`kubectl cnpg ${ran.command} `) && hint !== `kubectl cnpg ${ran.command}`) return hint;
  const words = hint.split(' ');
  if (words.includes('--apply') && !ran.apply) return hint;
  if ((words.includes('-v') || words.includes('--verbose')) && !ran.verbose) return hint;
  return undefined;
}

/** Indent of a finding's continuation lines, and of its hint line. */
const FINDING_INDENT = 4;
const HINT_INDENT = 6;

/**
 * Findings for people, one fault per line, each with its hint (`→ command`)
 * unless it repeats the command just run. On a terminal (`io.isStdoutTTY`)
 * long lines wrap at `io.width` with a hanging indent; elsewhere a finding
 * is one line, as scripts and logs expect.
 */
export function renderFindings(
  io: IOStreams,
  findings: Finding[],
  opts: { ran?: RanCommand; withCommands?: boolean } = {},
): string {
  if (findings.length === 0) return '';
  const wrap = io.isStdoutTTY ? io.width : undefined;
  const lines = findings.map((f) => {
    const label = f.severity.toUpperCase();
    const plain = `${label}  ${sanitize(f.subject)}  ${sanitize(f.message)}`;
    const headLines = wrap ? wrapHanging(plain, wrap, FINDING_INDENT) : [plain];
    headLines[0] = severityLabel(io, f.severity) + headLines[0]!.slice(label.length);
    const raw = opts.withCommands === false ? undefined : hintFor(f, opts.ran);
    const hint = raw === undefined ? undefined : sanitize(raw);
    if (hint === undefined) return headLines.join('\n');
    const arrow = `→ ${hint}`;
    const pad = ' '.repeat(FINDING_INDENT);
    const hintLines = (wrap ? wrapHanging(arrow, wrap - FINDING_INDENT, HINT_INDENT - FINDING_INDENT) : [arrow]).map(
      (l) => pad + l,
    );
    return [...headLines, ...hintLines].join('\n');
  });
  return lines.join('\n') + '\n';
}

/** One line (stderr) saying which sources answered and which were denied, and the fix. */
export function sourcesLine(snapshot: Snapshot, verbose: boolean): string {
  return sanitize(sourcesText(snapshot, verbose), { keepNewlines: true });
}

function sourcesText(snapshot: Snapshot, verbose: boolean): string {
  if (snapshot.origin.kind === 'bundle') {
    // What the bundle reader rejected (malformed facts, objects) is shown, never dropped silently.
    return (
      `source: bundle ${snapshot.origin.file} (collected ${snapshot.collectedAt}${snapshot.origin.collectedFrom ? ` from ${snapshot.origin.collectedFrom}` : ''})\n` +
      snapshot.problems.map((p) => `  problem: ${p}\n`).join('')
    );
  }
  const used = snapshot.sources
    .filter((s) => s.outcome === 'used')
    .map((s) => `${s.source} (${s.fact}${s.detail ? `, ${s.detail}` : ''})`);
  const other = snapshot.sources.filter((s) => s.outcome !== 'used' && s.outcome !== 'denied');
  let out = `sources: ${used.length ? used.join('; ') : 'none answered'}\n`;
  for (const d of deniedGrants(snapshot.sources, verbose))
    out += `  denied: ${d.source} — grant ${d.grant} to use it\n`;
  if (verbose) {
    for (const o of other)
      out += `  ${o.outcome}: ${o.source}${o.scope ? ` ${o.scope}` : ''}${o.detail ? ` — ${o.detail}` : ''}\n`;
  }
  // Every dropped or rejected fact is visible in text output, not only with -v.
  for (const p of snapshot.problems) out += `  problem: ${p}\n`;
  return out;
}

/** Namespaces named on one "denied" line before the rest are only counted (all of them with -v). */
const DENIED_NAMESPACES_SHOWN = 3;

/**
 * What to grant for each denied source, one entry per source and rule with
 * the namespaces it is missing in gathered: a read-only user of `-A` over 60
 * namespaces reads one line per source, not 60. `grant` is the quoted rule
 * and where, e.g. `"get pods/proxy in namespace db"` or `"get pods/proxy" in
 * the 60 namespaces a, b, c and 57 more (-v lists them)`.
 */
export function deniedGrants(reports: Snapshot['sources'], verbose: boolean): { source: string; grant: string }[] {
  const groups = new Map<string, { source: string; rule: string; namespaces: Set<string> }>();
  for (const r of reports) {
    if (r.outcome !== 'denied') continue;
    const permission = r.permission ?? '';
    // The rule without its namespace: collect.ts writes it with ruleText's " in namespace NS".
    const suffix = r.scope ? ` in namespace ${r.scope}` : '';
    const scoped = suffix !== '' && permission.includes(suffix);
    const rule = scoped ? permission.split(suffix).join('') : permission;
    const key = `${r.source}\u0000${rule}\u0000${scoped ? 'ns' : ''}`;
    const g = groups.get(key) ?? { source: r.source, rule, namespaces: new Set<string>() };
    groups.set(key, g);
    if (scoped) g.namespaces.add(r.scope!);
  }
  return [...groups.values()].map(({ source, rule, namespaces: set }) => {
    const namespaces = [...set];
    if (namespaces.length === 0) return { source, grant: `"${rule}"` };
    if (namespaces.length === 1) return { source, grant: `"${rule} in namespace ${namespaces[0]}"` };
    const all = verbose || namespaces.length <= DENIED_NAMESPACES_SHOWN;
    const shown = all ? namespaces : namespaces.slice(0, DENIED_NAMESPACES_SHOWN);
    const rest = namespaces.length - shown.length;
    const list = shown.join(', ') + (rest > 0 ? ` and ${rest} more (-v lists them)` : '');
    return { source, grant: `"${rule}" in the ${namespaces.length} namespaces ${list}` };
  });
}

/** A volume's short name in tables and messages: data, wal or tbs:NAME. */
export function volumeLabel(v: { type: string; tablespace?: string | undefined }): string {
  return v.type === 'tablespace' ? `tbs:${v.tablespace ?? ''}` : v.type;
}
