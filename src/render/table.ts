/**
 * Tables for people (cli-table3), borderless like kubectl. On a terminal a
 * table fits its width: the caller names, in order, the columns to shorten or
 * drop (docs/cli.md lists each table's order), and cells are cut with "…"
 * only when every step was not enough. Without a width (pipes, files,
 * `-o wide`) the table is printed whole, unchanged.
 */
import Table from 'cli-table3';
import { cellText, type TrustedText } from './sanitize.js';

/** One way of making a table narrower: drop a column, or shorten its cells. */
export type FitStep = { drop: string } | { column: string; shorten: (cell: string) => string };

export interface FitOptions {
  /** The terminal's width in columns: no line may be longer. */
  width: number;
  /** What to give up first, in order (columns named by their heading). */
  steps: readonly FitStep[];
}

const GAP = 2;

/**
 * Tables of plain text (colour sequences aside) are padded here rather than
 * by cli-table3: it merges its options and builds its regular expressions
 * again for every cell, and checks every cell against every other for spans,
 * which cost `disk status -A` over 1,800 volumes (20,000 cells) a second of
 * CPU, and a five-row table ~10 ms of a bundle read. Plain text is printable
 * ASCII and the few other characters our own cells use (arrows, dashes, the
 * ellipsis, ×, ≥, ≤, ±, ·, ’): each is one column for cli-table3 as for a
 * terminal, and none is an emoji or combining mark, so padding is all a
 * borderless table is; a property test holds this to cli-table3's drawing.
 * Anything else (a name in another script, an emoji) goes to cli-table3.
 */
const PLAIN_CELL = /^[\x20-\x7e\u2192\u2190\u2026\u2014\u2013\u00d7\u2265\u2264\u00b1\u00b7\u2019]*$/;

function plainText(cells: string[]): boolean {
  return cells.every((c) => PLAIN_CELL.test(stripColour(c)));
}

function stripColour(s: string): string {
  // eslint-disable-next-line no-control-regex -- SGR colour sequences are what we strip
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}

function draw(head: string[], rows: string[][]): string {
  // Wide or combining characters, line breaks: cli-table3 measures those.
  if (!plainText(head) || !rows.every(plainText)) return drawWithCliTable(head, rows);
  const all = head.length > 0 ? [head, ...rows] : rows;
  const widths: number[] = [];
  for (const r of all) r.forEach((cell, c) => (widths[c] = Math.max(widths[c] ?? 0, visibleWidth(cell))));
  const gap = ' '.repeat(GAP);
  const pad = (cell: string, w: number) => cell + ' '.repeat(w - visibleWidth(cell));
  return (
    all
      .map((r) =>
        widths
          .map((w, c) => pad(r[c] ?? '', w))
          .join(gap)
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** The borderless table cli-table3 draws; exported for the test that holds draw() to it. */
export function drawWithCliTable(head: string[], rows: string[][]): string {
  const t = new Table({
    head,
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: ' '.repeat(GAP),
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  t.push(...rows);
  return (
    t
      .toString()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n') + '\n'
  );
}

/** Printed width of a string: code points, escape sequences not counted. */
export function visibleWidth(s: string): number {
  return [...stripColour(s)].length;
}

function tableWidth(head: string[], rows: string[][]): number {
  return head.reduce(
    (sum, h, c) => sum + Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[c] ?? ''))) + (c > 0 ? GAP : 0),
    0,
  );
}

/** Cuts a cell to `n` columns, the last one "…". */
function cut(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : n <= 1 ? '…'.slice(0, n) : chars.slice(0, n - 1).join('') + '…';
}

/**
 * Applies the steps in order until the table fits; then, if it still does
 * not, cuts the widest column's cells one column at a time (never below 3).
 */
export function fitTable(head: string[], rows: string[][], fit: FitOptions): { head: string[]; rows: string[][] } {
  let h = [...head];
  let r = rows.map((row) => [...row]);
  for (const step of fit.steps) {
    if (tableWidth(h, r) <= fit.width) break;
    if ('drop' in step) {
      const c = h.indexOf(step.drop);
      if (c < 0) continue;
      h = h.filter((_, i) => i !== c);
      r = r.map((row) => row.filter((_, i) => i !== c));
    } else {
      const c = h.indexOf(step.column);
      if (c < 0) continue;
      r = r.map((row) => row.map((cell, i) => (i === c ? step.shorten(cell) : cell)));
    }
  }
  for (;;) {
    const over = tableWidth(h, r) - fit.width;
    if (over <= 0) break;
    const widths = h.map((hd, c) => Math.max(visibleWidth(hd), ...r.map((row) => visibleWidth(row[c] ?? ''))));
    const widest = widths.indexOf(Math.max(...widths));
    const target = Math.max(3, widths[widest]! - over);
    if (target >= widths[widest]!) break; // every column at 3: nothing left to cut
    h[widest] = cut(h[widest]!, target);
    r = r.map((row) => row.map((cell, i) => (i === widest ? cut(cell, target) : cell)));
  }
  return { head: h, rows: r };
}

/**
 * Every cell is sanitised (render/sanitize.ts) unless it is TrustedText (our
 * own colours), before any fitting, so widths are those of what is printed.
 */
export function renderTable(head: string[], cells: (string | TrustedText)[][], fit?: FitOptions): string {
  const rows = cells.map((r) => r.map((c) => cellText(c)));
  head = head.map((h) => cellText(h));
  if (!fit) return draw(head, rows);
  const t = fitTable(head, rows, fit);
  return draw(t.head, t.rows);
}

/**
 * Wraps text to `width` columns at spaces; lines after the first start with
 * `indent` spaces (a hanging indent). A word longer than a line is broken.
 */
export function wrapHanging(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  const room = () => width - (lines.length === 0 ? 0 : indent);
  for (const word of text.split(' ')) {
    let w = word;
    const sep = line === '' ? '' : ' ';
    if (visibleWidth(line) + sep.length + visibleWidth(w) <= room()) {
      line += sep + w;
      continue;
    }
    if (line !== '') {
      lines.push(line);
      line = '';
    }
    while (visibleWidth(w) > room() && room() > 0) {
      const n = room();
      const chars = [...w];
      lines.push(chars.slice(0, n).join(''));
      w = chars.slice(n).join('');
    }
    line = w;
  }
  lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : ' '.repeat(indent) + l));
}
