/**
 * Tables for people (cli-table3), borderless like kubectl.
 */
import Table from 'cli-table3';
import { cellText, type TrustedText } from './sanitize.js';

/** Every cell is sanitised (render/sanitize.ts) unless it is TrustedText (our own colours). */
export function renderTable(head: string[], rows: (string | TrustedText)[][]): string {
  const t = new Table({
    head: head.map((h) => cellText(h)),
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
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  t.push(...rows.map((r) => r.map((c) => cellText(c))));
  return (
    t
      .toString()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n') + '\n'
  );
}
