/**
 * Kubernetes resource quantities, exactly.
 *
 * Written by hand because no maintained npm package parses the full
 * Kubernetes grammar exactly (client-node has no quantity type; the small
 * packages that exist use floating point and lose bytes above 2^53).
 *
 * A quantity is held as a BigInt count of nano-units (10^-9), which is the
 * finest precision Kubernetes keeps: anything finer is rounded up, as the API
 * server does. Every binary suffix times a decimal fraction is a finite
 * decimal, so `1.5Gi`, `0.1Ki` or `10Pi` are exact.
 *
 * Grammar (k8s.io/apimachinery/pkg/api/resource):
 *   quantity ::= signedNumber suffix
 *   suffix   ::= binarySI | decimalSI | decimalExponent
 *   binarySI ::= Ki | Mi | Gi | Ti | Pi | Ei
 *   decimalSI ::= n | u | m | "" | k | M | G | T | P | E
 *   decimalExponent ::= ("e" | "E") signedNumber
 */

export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

export interface Quantity {
  /** Exact value in units of 10^-9. */
  readonly nanos: bigint;
  /** The suffix family the text used; formatting keeps it. */
  readonly format: QuantityFormat;
}

export class QuantityError extends Error {
  readonly text: string;
  constructor(text: string, why: string) {
    super(`invalid quantity ${JSON.stringify(text)}: ${why}`);
    this.name = 'QuantityError';
    this.text = text;
  }
}

const NANO = 1_000_000_000n;
const KI = 1024n;

const BINARY_SUFFIXES: ReadonlyArray<readonly [string, bigint]> = [
  ['Ki', KI],
  ['Mi', KI ** 2n],
  ['Gi', KI ** 3n],
  ['Ti', KI ** 4n],
  ['Pi', KI ** 5n],
  ['Ei', KI ** 6n],
];

/** Decimal SI suffixes and their power of ten. */
const DECIMAL_SUFFIXES: ReadonlyArray<readonly [string, number]> = [
  ['n', -9],
  ['u', -6],
  ['m', -3],
  ['', 0],
  ['k', 3],
  ['M', 6],
  ['G', 9],
  ['T', 12],
  ['P', 15],
  ['E', 18],
];

/** Bounds that keep absurd input from allocating huge BigInts. */
const MAX_TEXT_LENGTH = 128;
const MAX_EXPONENT = 60;

const NUMBER_RE = /^([+-]?)(\d*)(?:\.(\d*))?/;

/** 10^n as a rational numerator/denominator pair of BigInts. */
function pow10(n: number): { num: bigint; den: bigint } {
  return n >= 0 ? { num: 10n ** BigInt(n), den: 1n } : { num: 1n, den: 10n ** BigInt(-n) };
}

/** Ceiling division for a non-negative denominator (rounds toward +infinity). */
function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/**
 * Parses a quantity in any form the Kubernetes API accepts.
 * Throws QuantityError naming the offending text.
 */
export function parseQuantity(text: string): Quantity {
  if (typeof text !== 'string') {
    throw new QuantityError(String(text), 'not a string');
  }
  if (text.length === 0) throw new QuantityError(text, 'empty');
  if (text.length > MAX_TEXT_LENGTH) throw new QuantityError(text.slice(0, 32) + '…', 'too long');
  const m = NUMBER_RE.exec(text);
  // The regex always matches (every part is optional), so m is never null.
  const [whole, sign, intDigits = '', fracDigits] = m as RegExpExecArray;
  const frac = fracDigits ?? '';
  if (intDigits.length === 0 && frac.length === 0) {
    throw new QuantityError(text, 'no number');
  }
  const suffix = text.slice(whole.length);

  // mantissa = digits as an integer (at least one digit, checked above), scaled by 10^-frac.length
  let num = BigInt(intDigits + frac);
  let den = 10n ** BigInt(frac.length);
  let format: QuantityFormat;

  const binary = BINARY_SUFFIXES.find(([s]) => s === suffix);
  const decimal = DECIMAL_SUFFIXES.find(([s]) => s === suffix);
  if (binary) {
    num *= binary[1];
    format = 'BinarySI';
  } else if (decimal) {
    const p = pow10(decimal[1]);
    num *= p.num;
    den *= p.den;
    format = 'DecimalSI';
  } else if (/^[eE][+-]?\d+$/.test(suffix)) {
    const exp = Number(suffix.slice(1));
    if (Math.abs(exp) > MAX_EXPONENT) {
      throw new QuantityError(text, `exponent beyond ±${MAX_EXPONENT}`);
    }
    const p = pow10(exp);
    num *= p.num;
    den *= p.den;
    format = 'DecimalExponent';
  } else {
    throw new QuantityError(
      text,
      `unknown suffix ${JSON.stringify(suffix)} (use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E, m or an exponent)`,
    );
  }

  // Kubernetes keeps nano precision and rounds anything finer away from zero.
  let nanos = ceilDiv(num * NANO, den);
  if (sign === '-') nanos = -nanos;
  if (nanos === 0n) nanos = 0n; // normalise -0
  return { nanos, format };
}

/** Parses a quantity, returning a result object instead of throwing. */
export function tryParseQuantity(text: string): { ok: true; value: Quantity } | { ok: false; error: string } {
  try {
    return { ok: true, value: parseQuantity(text) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/**
 * The value as whole units, rounded up like Kubernetes' Quantity.Value():
 * `0.5` bytes is 1 byte.
 */
export function quantityValue(q: Quantity): bigint {
  return q.nanos >= 0n ? ceilDiv(q.nanos, NANO) : -ceilDiv(-q.nanos, NANO);
}

/** Parses a byte size: a non-negative quantity, rounded up to whole bytes. */
export function parseBytes(text: string): bigint {
  const q = parseQuantity(text);
  if (q.nanos < 0n) throw new QuantityError(text, 'a size must not be negative');
  return quantityValue(q);
}

export function compareQuantity(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

export function addQuantity(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos + b.nanos, format: a.format };
}

/**
 * Multiplies by a percentage given in basis points (1% = 100), rounding up to
 * the next nano-unit so a step is never smaller than asked.
 */
export function multiplyByPercent(q: Quantity, basisPoints: number): Quantity {
  if (!Number.isInteger(basisPoints)) throw new RangeError('basis points must be an integer');
  const product = q.nanos * BigInt(basisPoints);
  const nanos = product >= 0n ? ceilDiv(product, 10_000n) : -ceilDiv(-product, 10_000n);
  return { nanos, format: q.format };
}

/** Byte count times a percentage in basis points, rounded up to whole bytes. */
export function percentOfBytes(bytes: bigint, basisPoints: number): bigint {
  return ceilDiv(bytes * BigInt(basisPoints), 10_000n);
}

/** Decimal SI suffix for a power of ten that is a multiple of 3 in -9..18. */
function decimalSuffix(exp: number): string {
  return (DECIMAL_SUFFIXES.find(([, p]) => p === exp) as readonly [string, number])[0];
}

/**
 * Kubernetes' canonical base-10 form of a non-negative value given in nanos:
 * mantissa × 10^exponent with every factor of ten moved into the exponent,
 * then the exponent lowered to a multiple of three (`1500000` → 1500 × 10^3,
 * `0.1` → 100 × 10^-3). `maxExponent` caps the exponent (18 for decimal SI,
 * whose largest suffix is E).
 */
function canonicalDecimal(absNanos: bigint, maxExponent: number): { mantissa: bigint; exponent: number } {
  let mantissa = absNanos;
  let exponent = -9;
  while (mantissa % 10n === 0n && exponent < maxExponent) {
    mantissa /= 10n;
    exponent++;
  }
  const down = ((exponent % 3) + 3) % 3;
  return { mantissa: mantissa * 10n ** BigInt(down), exponent: exponent - down };
}

/**
 * Canonical text of a quantity, as Kubernetes' Quantity.String() writes it
 * (k8s.io/apimachinery CanonicalizeBytes), except that values are never
 * capped (Kubernetes caps BinarySI at 2^63-1) and decimal SI above 999E keeps
 * the E suffix with a larger mantissa:
 *  - BinarySI: a whole number of at least 1024 (in absolute value) takes the
 *    largest binary suffix that divides it exactly (`1536Mi`); one that no
 *    suffix divides is written plainly (`1025`, `1500`). Smaller values and
 *    fractions are written as decimal SI (`1000` → `1k`, `0.5` → `500m`).
 *  - DecimalSI: exponents in multiples of three with n, u, m, k, M, G, T, P, E
 *    (`1500000` → `1500k`, `1.5` → `1500m`).
 *  - DecimalExponent: the same mantissa with `e<exponent>` (`1e4` → `10e3`,
 *    `0.5` → `500e-3`).
 * parseQuantity(formatQuantity(q)) has the value (nanos) of q.
 */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return '0';
  const neg = q.nanos < 0n;
  const abs = neg ? -q.nanos : q.nanos;
  const sign = neg ? '-' : '';
  if (q.format === 'BinarySI' && abs % NANO === 0n && abs >= KI * NANO) {
    const value = abs / NANO;
    for (let i = BINARY_SUFFIXES.length - 1; i >= 0; i--) {
      const [suffix, factor] = BINARY_SUFFIXES[i] as readonly [string, bigint];
      if (value % factor === 0n) return `${sign}${value / factor}${suffix}`;
    }
    return `${sign}${value}`;
  }
  if (q.format === 'DecimalExponent') {
    const { mantissa, exponent } = canonicalDecimal(abs, Number.POSITIVE_INFINITY);
    return exponent === 0 ? `${sign}${mantissa}` : `${sign}${mantissa}e${exponent}`;
  }
  const { mantissa, exponent } = canonicalDecimal(abs, 18);
  return `${sign}${mantissa}${decimalSuffix(exponent)}`;
}

/** Canonical binary text of a byte count, as Kubernetes writes it: `10Gi`, `1536Mi`, `1025`, `1k` (1000 bytes). */
export function formatBytes(bytes: bigint): string {
  return formatQuantity(bytesToQuantity(bytes));
}

export function bytesToQuantity(bytes: bigint): Quantity {
  return { nanos: bytes * NANO, format: 'BinarySI' };
}

const HUMAN_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/**
 * For people, not machines: `9.8 GiB`. One decimal, rounded half up; exact
 * values stay exact (`10 GiB`). Machine output uses byte counts instead.
 */
export function formatBytesHuman(bytes: bigint): string {
  const neg = bytes < 0n;
  const abs = neg ? -bytes : bytes;
  const tenthsOf = (scale: bigint): bigint => (abs * 10n + scale / 2n) / scale;
  let unit = 0;
  let scale = 1n;
  // The next unit as soon as the rounded figure would read 1024 of this one
  // (1048575 bytes is `1 MiB`, not `1024 KiB`).
  while (unit < HUMAN_UNITS.length - 1 && tenthsOf(scale) >= 10240n) {
    scale *= 1024n;
    unit++;
  }
  const tenths = tenthsOf(scale);
  const whole = tenths / 10n;
  const dec = tenths % 10n;
  const text = dec === 0n ? `${whole}` : `${whole}.${dec}`;
  return `${neg ? '-' : ''}${text} ${HUMAN_UNITS[unit]}`;
}

export const MiB = 1024n * 1024n;
export const GiB = MiB * 1024n;

/** Rounds a byte count up to a whole multiple of `unit`. */
export function roundUpTo(bytes: bigint, unit: bigint): bigint {
  return ceilDiv(bytes, unit) * unit;
}
