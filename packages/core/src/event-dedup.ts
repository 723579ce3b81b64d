/**
 * Kubernetes events, de-duplicated: the two rules every reader and writer of
 * events follows (the per-pass de-duplication of the engine's own events is
 * dedupeEvents in events.ts).
 */

/** An event as far as de-duplication is concerned. */
export interface EventIdentity {
  reason: string;
  message?: string | undefined;
  objectKind?: string | undefined;
  objectName?: string | undefined;
}

/**
 * One per reason and involved object, the first as listed: the same fault
 * repeated (a mount failing every minute) is one finding, whatever its count.
 */
export function firstPerReasonAndObject<T extends EventIdentity>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const e of events) {
    const key = `${e.reason}|${e.objectKind ?? ''}/${e.objectName ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

/** An event with the same reason and message already exists: it is not created again. */
export function alreadyRecorded(
  existing: readonly Pick<EventIdentity, 'reason' | 'message'>[],
  e: Pick<EventIdentity, 'reason' | 'message'>,
): boolean {
  return existing.some((x) => x.reason === e.reason && x.message === e.message);
}
