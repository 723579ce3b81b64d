/**
 * The per-PVC resize ledger: what counts against the budget, pruning, and the
 * serialised form kept in an annotation on the PVC itself (so the PVC patch
 * and the ledger entry are one write with one resourceVersion precondition).
 *
 * Annotation value (version 1), compact JSON:
 *   {"v":1,"entries":[{"at":"2026-11-26T03:52:41Z","from":"10Gi","to":"12Gi","by":"engine"}]}
 * An entry may say why (`"why":"sibling-floor"`); readers that do not know
 * the field ignore it, so the version stays 1.
 */
import { LEDGER_WHYS, type Ledger, type LedgerEntry, type LedgerWhy } from './model.js';
import { formatBytes, parseBytes } from './quantity.js';

/** The rolling window of the budget. */
export const BUDGET_WINDOW_MS = 24 * 60 * 60 * 1000;
/**
 * Ledger times are stored to the second, rounded up: an entry may read up to
 * this much later than the moment it was made. Future entries within it are
 * our own rounding, not clock skew, and are not warned about.
 */
export const LEDGER_TIME_PRECISION_MS = 1000;
export const LEDGER_VERSION = 1;

export interface Budget {
  /** maxActionsPerDay */
  max: number;
  /** Engine resizes inside the window. */
  used: number;
  /** max - used, never below 0. */
  remaining: number;
  /** When remaining is 0 (and max > 0): the time the next slot opens (RFC 3339). */
  nextSlotAt?: string;
  /** Odd ledger contents worth showing (entries in the future). */
  warnings: string[];
}

/**
 * Date.parse of the same few entry times on every pass is most of what the
 * budget costs the engine's fast path: remembered in a bounded memo (parsing
 * a string always gives the same result, so budgets stay pure).
 */
const parsedAt = new Map<string, number>();
function toMs(at: string): number {
  let t = parsedAt.get(at);
  if (t === undefined) {
    if (parsedAt.size >= 4096) parsedAt.clear();
    t = Date.parse(at);
    parsedAt.set(at, t);
  }
  return t;
}

/** Whether an entry is still inside the window at `now`. An entry exactly 24 h old is outside. */
export function insideWindow(entry: LedgerEntry, now: number): boolean {
  return now - toMs(entry.at) < BUDGET_WINDOW_MS;
}

/** The engine-made resizes that count against the budget at `now`, oldest first. */
export function countedEntries(ledger: Ledger, now: number): LedgerEntry[] {
  return ledger.entries
    .filter((e) => e.by === 'engine' && insideWindow(e, now))
    .sort((a, b) => toMs(a.at) - toMs(b.at));
}

export function budgetOf(ledger: Ledger, maxActionsPerDay: number, now: number): Budget {
  const counted = countedEntries(ledger, now);
  // An entry is written with its time rounded up to the second (compactTime):
  // read back within that second by another run (two racing --apply runs), it
  // is up to 999 ms "ahead" through our own rounding, which is no clock skew.
  const warnings = counted
    .filter((e) => toMs(e.at) - now > LEDGER_TIME_PRECISION_MS)
    .map((e) => `ledger entry at ${e.at} is in the future (clock skew?); it is counted`);
  const used = counted.length;
  const remaining = Math.max(0, maxActionsPerDay - used);
  const budget: Budget = { max: maxActionsPerDay, used, remaining, warnings };
  if (remaining === 0 && maxActionsPerDay > 0) {
    // The slot opens when enough entries leave the window for used < max.
    const expiring = counted[used - maxActionsPerDay] as LedgerEntry;
    budget.nextSlotAt = new Date(toMs(expiring.at) + BUDGET_WINDOW_MS).toISOString();
  }
  return budget;
}

/** Drops only the entries that are outside the window; every entry inside it is kept. */
export function pruneLedger(ledger: Ledger, now: number): Ledger {
  const entries = ledger.entries.filter((e) => insideWindow(e, now));
  return ledger.corrupt === undefined ? { entries } : { entries, corrupt: ledger.corrupt };
}

/** Adds an entry after pruning what has left the window. */
export function addLedgerEntry(ledger: Ledger, entry: LedgerEntry, now: number): Ledger {
  const pruned = pruneLedger(ledger, now);
  return { ...pruned, entries: [...pruned.entries, entry] };
}

/**
 * Seconds precision keeps the annotation small. Rounded up, never down: an
 * entry read back must stay inside the window at least as long as the exact
 * time would (rounding down let a resize leave the window up to 999 ms early,
 * one more resize than the budget allows in that 24 h).
 */
function compactTime(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** RFC 3339 date-time (Date.parse alone accepts "1" or "May 5"). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function serializeLedger(ledger: Ledger): string {
  return JSON.stringify({
    v: LEDGER_VERSION,
    entries: ledger.entries.map((e) => ({
      at: compactTime(toMs(e.at)),
      from: formatBytes(e.fromBytes),
      to: formatBytes(e.toBytes),
      by: e.by,
      ...(e.why ? { why: e.why } : {}),
    })),
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads a ledger annotation. Never throws: an absent annotation is an empty
 * ledger; anything unreadable is reported in `corrupt` (with whatever entries
 * could be read) so the engine refuses to spend budget rather than refill it.
 */
export function parseLedger(text: string | undefined | null): Ledger {
  if (text === undefined || text === null || text.trim() === '') return { entries: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { entries: [], corrupt: 'the annotation is not valid JSON' };
  }
  if (!isRecord(doc)) return { entries: [], corrupt: 'the annotation is not a JSON object' };
  if (doc['v'] !== LEDGER_VERSION) {
    return {
      entries: [],
      corrupt: `unsupported ledger version ${JSON.stringify(doc['v'])} (expected ${LEDGER_VERSION})`,
    };
  }
  const raw = doc['entries'];
  if (!Array.isArray(raw)) return { entries: [], corrupt: 'entries is not a list' };
  const entries: LedgerEntry[] = [];
  const bad: number[] = [];
  raw.forEach((e: unknown, i: number) => {
    const parsed = parseEntry(e);
    if (parsed) entries.push(parsed);
    else bad.push(i);
  });
  if (bad.length > 0) {
    return { entries, corrupt: `unreadable entr${bad.length === 1 ? 'y' : 'ies'} at index ${bad.join(', ')}` };
  }
  return { entries };
}

function parseEntry(e: unknown): LedgerEntry | undefined {
  if (!isRecord(e)) return undefined;
  const { at, from, to, by, why } = e;
  if (typeof at !== 'string' || !RFC3339.test(at) || Number.isNaN(Date.parse(at))) return undefined;
  if (typeof from !== 'string' || typeof to !== 'string') return undefined;
  if (by !== 'engine' && by !== 'manual') return undefined;
  try {
    const entry: LedgerEntry = {
      at: new Date(Date.parse(at)).toISOString(),
      fromBytes: parseBytes(from),
      toBytes: parseBytes(to),
      by,
    };
    // An unknown reason is dropped, not an error: it changes nothing the budget counts.
    if (typeof why === 'string' && (LEDGER_WHYS as readonly string[]).includes(why)) entry.why = why as LedgerWhy;
    return entry;
  } catch {
    return undefined;
  }
}
