/**
 * Tables and findings for a terminal: fitting a width in the documented
 * order, the last-resort cut, the hanging indent, and hints that never send
 * a person back to the command they just ran.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { drawWithCliTable, fitTable, renderTable, visibleWidth, wrapHanging } from '../../../src/render/table.js';
import { hintFor, renderFindings, sourcesLine } from '../../../src/render/common.js';
import { snapshot } from '../../helpers/fixtures.js';
import type { SourceAttempt, SourceName } from '../../../src/model/snapshot.js';
import { trusted } from '../../../src/render/sanitize.js';
import { bufferIO } from '../../../src/cli/io.js';
import { STATUS_FIT_STEPS } from '../../../src/app/disk-status.js';
import type { Finding } from '../../../src/analysis/findings.js';

const lines = (s: string) => s.replace(/\n$/, '').split('\n');

describe('fitting a table to a width', () => {
  const head = [
    'CLUSTER',
    'INSTANCE',
    'ROLE',
    'VOLUME',
    'PVC SIZE',
    'FS SIZE',
    'USED',
    'AVAIL',
    'USE%',
    'POLICY',
    'VERDICT',
  ];
  const row = [
    'ns/main',
    'main-1',
    'primary',
    'wal',
    '1 GiB',
    '1 GiB',
    '10 MiB',
    '990 MiB',
    '1.0%',
    'on (annotation)',
    'blocked/archive-unhealthy',
  ];

  it('without a width the table is whole (what scripts read)', () => {
    expect(renderTable(head, [row])).toBe(renderTable(head, [row], undefined));
    expect(lines(renderTable(head, [row]))[0]).toContain('FS SIZE');
  });

  it('gives up columns in the documented order, and only as many as needed', () => {
    const full = Math.max(...lines(renderTable(head, [row])).map(visibleWidth));
    const oneStep = fitTable(head, [row], { width: full - 1, steps: STATUS_FIT_STEPS });
    expect(oneStep.head).toEqual(head.filter((h) => h !== 'FS SIZE'));
    const more = fitTable(head, [row], { width: 70, steps: STATUS_FIT_STEPS });
    expect(more.head).not.toContain('USED');
    expect(more.rows[0]).toContain('on');
    expect(more.rows[0]).toContain('blocked');
  });

  it('every line fits any width of 3 columns per column or more (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string({ maxLength: 40 }), { minLength: 4, maxLength: 4 }), { maxLength: 6 }),
        fc.integer({ min: 4 * 3 + 3 * 2, max: 200 }),
        (rows, width) => {
          // eslint-disable-next-line no-control-regex -- control characters are what the cells must not hold here
          const clean = rows.map((r) => r.map((c) => c.replace(/[\s\u0000-\u001f\u007f-\u009f]/g, 'x')));
          const out = renderTable(['A', 'B', 'C', 'D'], clean, { width, steps: [] });
          for (const l of lines(out)) expect(visibleWidth(l)).toBeLessThanOrEqual(width);
        },
      ),
    );
  });
});

describe('drawing a table', () => {
  // Printable ASCII and the other characters our cells use (table.ts pads
  // both by hand), with a character cli-table3 must measure now and then.
  const ascii = fc.stringMatching(/^[ -~\u2192\u2190\u2026\u2014\u2013\u00d7\u2265\u2264\u00b1\u00b7\u2019]{0,12}$/);
  // Some cells coloured, as the printer colours verdicts on a terminal.
  const cell = fc.oneof(
    ascii,
    ascii.map((s) => `\u001b[31m${s}\u001b[39m`),
  );
  const table = (minRows: number, maxRows: number) =>
    fc
      .integer({ min: 1, max: 5 })
      .chain((cols) =>
        fc.tuple(
          fc.array(fc.stringMatching(/^[A-Z][A-Z ]{0,8}$/), { minLength: cols, maxLength: cols }),
          fc.array(fc.array(cell, { minLength: cols, maxLength: cols }), { minLength: minRows, maxLength: maxRows }),
        ),
      );

  it('plain text, coloured or not, is padded by hand into exactly the lines cli-table3 draws (property)', () => {
    fc.assert(
      fc.property(table(0, 40), ([head, rows]) => {
        const cells = rows.map((r) => r.map((c) => (c.includes('\u001b') ? trusted(c) : c)));
        expect(renderTable(head, cells)).toBe(drawWithCliTable(head, rows));
      }),
      { numRuns: 200 },
    );
    const head = ['CLUSTER', 'VOLUME', 'USE%'];
    const rows = Array.from({ length: 2000 }, (_, i) => [`fleet-${i % 300}/db`, i % 2 ? 'data' : 'wal', `${i % 100}%`]);
    expect(renderTable(head, rows)).toBe(drawWithCliTable(head, rows));
  });

  it('wide characters are measured by cli-table3, colour sequences take no room', () => {
    const rows = [
      ['db-1', 'data'],
      ['数据库', 'data'],
      [trusted('\u001b[31mdb-2\u001b[0m'), 'wal'],
    ];
    const out = lines(renderTable(['CLUSTER', 'VOLUME'], rows));
    // The second column starts at the same display column on every line: a
    // CJK character takes two, a colour sequence none.
    const start = (l: string) => {
      // eslint-disable-next-line no-control-regex -- the colour sequences the test put in
      const plain = l.replace(/\u001b\[[0-9;]*m/g, '');
      const i = Math.max(plain.indexOf('data'), plain.indexOf('wal'), plain.indexOf('VOLUME'));
      return i + [...plain.slice(0, i)].filter((ch) => ch.charCodeAt(0) > 0x2e80).length;
    };
    expect(out.map(start)).toEqual([9, 9, 9, 9]);
  });
});

describe('wrapping with a hanging indent', () => {
  it('breaks at spaces, indents the rest, and breaks a word longer than a line', () => {
    expect(wrapHanging('aaa bbb ccc ddd', 8, 2)).toEqual(['aaa bbb', '  ccc', '  ddd']);
    expect(wrapHanging('x ' + 'y'.repeat(15), 8, 2)).toEqual(['x', '  yyyyyy', '  yyyyyy', '  yyy']);
    expect(wrapHanging('short', 80, 4)).toEqual(['short']);
  });
});

describe('hints', () => {
  const f = (command: string): Finding => ({
    severity: 'critical',
    code: 'X',
    subject: 'ns/pg',
    message: 'm',
    command,
  });
  it('never the command just run; another command, or one that adds --apply or -v, stays', () => {
    expect(hintFor(f('kubectl cnpg wal health pg -n ns'), { command: 'wal health' })).toBeUndefined();
    expect(hintFor(f('kubectl cnpg diagnose pg -n ns'), { command: 'diagnose' })).toBeUndefined();
    expect(hintFor(f('kubectl cnpg wal health pg -n ns'), { command: 'disk status' })).toBe(
      'kubectl cnpg wal health pg -n ns',
    );
    expect(hintFor(f('kubectl cnpg disk resize pg --apply'), { command: 'disk resize' })).toBe(
      'kubectl cnpg disk resize pg --apply',
    );
    expect(hintFor(f('kubectl cnpg disk resize pg --apply'), { command: 'disk resize', apply: true })).toBeUndefined();
    expect(hintFor(f('kubectl cnpg disk status pg -n ns -v'), { command: 'disk status' })).toBe(
      'kubectl cnpg disk status pg -n ns -v',
    );
    expect(
      hintFor(f('kubectl cnpg disk status pg -n ns -v'), { command: 'disk status', verbose: true }),
    ).toBeUndefined();
  });

  it('renderFindings drops the repeated hint and wraps only on a terminal', () => {
    const long: Finding = { ...f('kubectl cnpg wal health pg -n ns'), message: 'word '.repeat(30).trim() };
    const pipe = renderFindings(bufferIO(), [long], { ran: { command: 'disk status' } });
    expect(lines(pipe)).toHaveLength(2);
    const tty = renderFindings(bufferIO({ isStdoutTTY: true, width: 40 }), [long], { ran: { command: 'wal health' } });
    expect(tty).not.toContain('→');
    for (const l of lines(tty)) expect(l.length).toBeLessThanOrEqual(40);
    expect(
      lines(tty)
        .slice(1)
        .every((l) => l.startsWith('    ')),
    ).toBe(true);
  });
});

describe('the sources line', () => {
  const denied = (source: SourceName, permission: string, scope?: string): SourceAttempt => ({
    source,
    fact: 'filesystem',
    outcome: 'denied',
    permission,
    ...(scope ? { scope } : {}),
  });
  const namespaces = Array.from({ length: 60 }, (_, i) => `fleet-${String(i).padStart(2, '0')}`);
  const withSources = (sources: SourceAttempt[]) => {
    const s = snapshot([]);
    s.sources = [{ source: 'kubelet-summary', fact: 'filesystem', outcome: 'used', detail: '30 node(s)' }, ...sources];
    return s;
  };

  it('a source denied in many namespaces is one line, its namespaces gathered (all of them with -v)', () => {
    const s = withSources(
      namespaces.flatMap((ns) => [
        denied('pod-proxy', `get pods/proxy in namespace ${ns}`, ns),
        { ...denied('pod-proxy', `get pods/proxy in namespace ${ns}`, ns), fact: 'wal' },
        denied('exec', `get, create pods/exec in namespace ${ns}`, ns),
      ]),
    );
    expect(lines(sourcesLine(s, false))).toEqual([
      'sources: kubelet-summary (filesystem, 30 node(s))',
      '  denied: pod-proxy — grant "get pods/proxy" in the 60 namespaces fleet-00, fleet-01, fleet-02 and 57 more (-v lists them) to use it',
      '  denied: exec — grant "get, create pods/exec" in the 60 namespaces fleet-00, fleet-01, fleet-02 and 57 more (-v lists them) to use it',
    ]);
    const verbose = lines(sourcesLine(s, true));
    expect(verbose[1]).toBe(
      `  denied: pod-proxy — grant "get pods/proxy" in the 60 namespaces ${namespaces.join(', ')} to use it`,
    );
  });

  it('one namespace, or a cluster-wide rule, reads as the rule itself', () => {
    const s = withSources([
      denied('pod-proxy', 'get pods/proxy in namespace db', 'db'),
      denied('kubelet-summary', 'get nodes/proxy'),
    ]);
    expect(lines(sourcesLine(s, false)).slice(1)).toEqual([
      '  denied: pod-proxy — grant "get pods/proxy in namespace db" to use it',
      '  denied: kubelet-summary — grant "get nodes/proxy" to use it',
    ]);
  });
});
