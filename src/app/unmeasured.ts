/**
 * The "could not evaluate" error when a live run got no fact of a kind:
 * why, in one sentence, and what would fix it. Denied sources name the rule
 * to grant; sources that were permitted but failed say how they failed — a
 * user who granted exec and still gets nothing must not be told that
 * nothing is permitted.
 */
import { cannotEvaluate, type CliError } from '../model/errors.js';
import type { FactKind, Snapshot } from '../model/snapshot.js';
import { deniedGrants } from '../render/common.js';

export function noFactsError(snapshot: Snapshot, fact: FactKind, nothing: string): CliError {
  const attempts = snapshot.sources.filter((s) => s.fact === fact);
  const denied = attempts.filter((s) => s.outcome === 'denied');
  const broken = attempts.filter((s) => s.outcome === 'unreachable' || s.outcome === 'failed');
  // One hint per source and rule: a source is recorded once per namespace it was denied in.
  const grants = deniedGrants(denied, true).map((d) => `grant ${d.grant} (enables ${d.source})`);
  if (broken.length === 0 && denied.length > 0) {
    return cannotEvaluate(
      `no source of ${fact === 'wal' ? 'WAL' : 'filesystem'} facts is permitted, so ${nothing}`,
      'NO_SOURCE_PERMITTED',
      ...grants,
    );
  }
  // Nothing failed outright: say which sources had nothing to give (e.g. the
  // operator publishes no status), and which answered with other facts only.
  const said = broken.length > 0 ? broken : attempts.filter((s) => s.outcome === 'unavailable');
  const other = snapshot.sources.filter((s) => s.fact !== fact && s.outcome === 'used');
  const why = [
    ...new Set([
      ...said.map(
        (s) =>
          `${s.source} ${s.outcome === 'unavailable' ? 'unavailable' : 'failed'}${s.detail ? ` (${s.detail})` : ''}`,
      ),
      ...(broken.length === 0 ? other.map((s) => `${s.source} answered with ${s.fact} facts only`) : []),
    ]),
  ];
  // The first problems of the instances themselves: a stack trace (-v) would not show them.
  const problems = snapshot.clusters
    .flatMap((c) => c.measurements.flatMap((m) => m.errors.map((e) => `${c.namespace}/${m.pod}: ${e}`)))
    .slice(0, 3);
  return cannotEvaluate(
    `${nothing}: ${why.length > 0 ? why.join('; ') : 'no source answered'}`,
    'NOT_MEASURED',
    ...problems.map((p) => `problem: ${p}`),
    ...grants,
  );
}
