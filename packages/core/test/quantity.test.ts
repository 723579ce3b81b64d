/**
 * Kubernetes quantities: the grammar of k8s.io/apimachinery/pkg/api/resource,
 * exact BigInt values, and canonical text as Quantity.String() writes it.
 * Expected canonical forms are Kubernetes' own (its quantity_test.go table),
 * written here as facts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  GiB,
  MiB,
  QuantityError,
  addQuantity,
  bytesToQuantity,
  compareQuantity,
  formatBytes,
  formatBytesHuman,
  formatQuantity,
  multiplyByPercent,
  parseBytes,
  parseQuantity,
  percentOfBytes,
  quantityValue,
  roundUpTo,
  tryParseQuantity,
  type QuantityFormat,
} from '@cnpg-disk/core';

const NANO = 1_000_000_000n;
const Ki = 1024n;

describe('parseQuantity', () => {
  it.each([
    // binary SI
    ['1Ki', Ki, 'BinarySI'],
    ['1Mi', Ki ** 2n, 'BinarySI'],
    ['1Gi', Ki ** 3n, 'BinarySI'],
    ['1Ti', Ki ** 4n, 'BinarySI'],
    ['1Pi', Ki ** 5n, 'BinarySI'],
    ['1Ei', Ki ** 6n, 'BinarySI'],
    // decimal SI
    ['1', 1n, 'DecimalSI'],
    ['1k', 10n ** 3n, 'DecimalSI'],
    ['1M', 10n ** 6n, 'DecimalSI'],
    ['1G', 10n ** 9n, 'DecimalSI'],
    ['1T', 10n ** 12n, 'DecimalSI'],
    ['1P', 10n ** 15n, 'DecimalSI'],
    ['1E', 10n ** 18n, 'DecimalSI'],
    // decimal exponent
    ['1e3', 1000n, 'DecimalExponent'],
    ['1E3', 1000n, 'DecimalExponent'],
    ['1e+3', 1000n, 'DecimalExponent'],
    ['12e6', 12_000_000n, 'DecimalExponent'],
    ['1e0', 1n, 'DecimalExponent'],
    // signs, fractions
    ['+5Gi', 5n * GiB, 'BinarySI'],
    ['1.5Gi', 1536n * MiB, 'BinarySI'],
    ['.5Ki', 512n, 'BinarySI'],
    ['5.', 5n, 'DecimalSI'],
    ['0.5Ki', 512n, 'BinarySI'],
    ['007', 7n, 'DecimalSI'],
    ['1.2e3', 1200n, 'DecimalExponent'],
  ] as Array<[string, bigint, QuantityFormat]>)('%s = %s (%s)', (text, value, format) => {
    const q = parseQuantity(text);
    expect(q.nanos).toBe(value * NANO);
    expect(q.format).toBe(format);
  });

  it.each([
    ['1m', 1_000_000n],
    ['1u', 1_000n],
    ['1n', 1n],
    ['1e-3', 1_000_000n],
    ['1e-9', 1n],
    ['-1.5', -1_500_000_000n],
    ['-0', 0n],
    ['0.000000001', 1n],
  ])('%s is %s nanos', (text, nanos) => {
    expect(parseQuantity(text).nanos).toBe(nanos);
  });

  it('rounds anything finer than a nano-unit away from zero, as the API server does', () => {
    expect(parseQuantity('1.5n').nanos).toBe(2n);
    expect(parseQuantity('0.1n').nanos).toBe(1n);
    expect(parseQuantity('1e-10').nanos).toBe(1n);
    expect(parseQuantity('0.0000000001').nanos).toBe(1n);
    expect(parseQuantity('-0.1n').nanos).toBe(-1n);
    expect(parseQuantity('1.0000000001').nanos).toBe(NANO + 1n);
  });

  it('is exact far above 2^53 (tens of PiB and beyond)', () => {
    expect(parseBytes('10Pi')).toBe(11_258_999_068_426_240n);
    expect(parseBytes('40Pi') + 1n).toBe(45_035_996_273_704_961n);
    expect(parseBytes('45035996273704961')).toBe(45_035_996_273_704_961n);
    expect(parseBytes('8Ei')).toBe(9_223_372_036_854_775_808n); // 2^63: Kubernetes would cap it
    expect(parseBytes('1.000000001Ei')).toBe(Ki ** 6n + 1_152_921_505n); // ceil(2^60 × 1e-9)
  });

  it.each([
    ['1.5.5', 'unknown suffix ".5"'],
    ['Gi', 'no number'],
    ['1 Gi', 'unknown suffix " Gi"'],
    ['1e', 'unknown suffix "e"'],
    ['--1', 'no number'],
    ['', 'empty'],
    ['1e999', 'exponent beyond ±60'],
    ['1e-61', 'exponent beyond ±60'],
    [' 1', 'no number'],
    ['1 ', 'unknown suffix " "'],
    ['1Gb', 'unknown suffix "Gb"'],
    ['1mi', 'unknown suffix "mi"'],
    ['1KI', 'unknown suffix "KI"'],
    ['.', 'no number'],
    ['-', 'no number'],
    ['1e1.5', 'unknown suffix "e1.5"'],
    ['0x10', 'unknown suffix "x10"'],
    ['1.1.M', 'unknown suffix ".M"'],
    ['-3.01e-', 'unknown suffix "e-"'],
  ])('rejects %j naming the text (%s)', (text, why) => {
    expect(() => parseQuantity(text)).toThrow(QuantityError);
    expect(() => parseQuantity(text)).toThrow(`invalid quantity ${JSON.stringify(text)}: ${why}`);
    try {
      parseQuantity(text);
    } catch (e) {
      expect((e as QuantityError).text).toBe(text);
      expect((e as QuantityError).name).toBe('QuantityError');
    }
  });

  it('rejects a 200-character string without echoing all of it', () => {
    const long = '1'.repeat(200);
    expect(() => parseQuantity(long)).toThrow(`invalid quantity "${'1'.repeat(32)}…": too long`);
    // 128 characters is still accepted
    expect(parseQuantity('1'.repeat(128)).nanos).toBe(BigInt('1'.repeat(128)) * NANO);
  });

  it('rejects a value that is not a string (untyped callers)', () => {
    expect(() => parseQuantity(5 as unknown as string)).toThrow('invalid quantity "5": not a string');
  });

  it('tryParseQuantity returns the error instead of throwing', () => {
    expect(tryParseQuantity('2Gi')).toEqual({ ok: true, value: { nanos: 2n * GiB * NANO, format: 'BinarySI' } });
    expect(tryParseQuantity('2 Gi')).toEqual({
      ok: false,
      error:
        'invalid quantity "2 Gi": unknown suffix " Gi" (use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E, m or an exponent)',
    });
  });
});

describe('values and arithmetic', () => {
  it('quantityValue rounds up to whole units like Quantity.Value()', () => {
    expect(quantityValue(parseQuantity('0.5'))).toBe(1n);
    expect(quantityValue(parseQuantity('1m'))).toBe(1n);
    expect(quantityValue(parseQuantity('2'))).toBe(2n);
    expect(quantityValue(parseQuantity('-1.5'))).toBe(-2n);
    expect(quantityValue(parseQuantity('0'))).toBe(0n);
  });

  it('parseBytes refuses negative sizes', () => {
    expect(() => parseBytes('-1Gi')).toThrow('invalid quantity "-1Gi": a size must not be negative');
    expect(parseBytes('0.5')).toBe(1n);
  });

  it('compares, adds, and takes percentages exactly', () => {
    const a = parseQuantity('1Gi');
    const b = parseQuantity('1G');
    expect(compareQuantity(a, b)).toBe(1);
    expect(compareQuantity(b, a)).toBe(-1);
    expect(compareQuantity(a, parseQuantity('1024Mi'))).toBe(0);
    expect(addQuantity(a, b)).toEqual({ nanos: (GiB + 10n ** 9n) * NANO, format: 'BinarySI' });
    expect(multiplyByPercent(parseQuantity('10Gi'), 2000).nanos).toBe(2n * GiB * NANO);
    expect(multiplyByPercent(parseQuantity('1n'), 1).nanos).toBe(1n); // rounds up
    expect(multiplyByPercent(parseQuantity('-1n'), 1).nanos).toBe(-1n); // away from zero
    expect(() => multiplyByPercent(a, 1.5)).toThrow(RangeError);
    expect(percentOfBytes(100n * GiB, 2000)).toBe(20n * GiB);
    expect(percentOfBytes(3n, 5000)).toBe(2n); // ceil(1.5)
    expect(roundUpTo(MiB + 1n, MiB)).toBe(2n * MiB);
    expect(roundUpTo(MiB, MiB)).toBe(MiB);
    expect(roundUpTo(0n, MiB)).toBe(0n);
    expect(bytesToQuantity(5n)).toEqual({ nanos: 5n * NANO, format: 'BinarySI' });
  });
});

describe('formatQuantity: canonical text as Kubernetes writes it', () => {
  it.each([
    // BinarySI: largest exact binary suffix
    ['1Gi', '1Gi'],
    ['1024Mi', '1Gi'],
    ['307200Ki', '300Mi'],
    ['1.5Gi', '1536Mi'],
    ['1025Gi', '1025Gi'],
    ['1024Ei', '1024Ei'],
    // BinarySI that no binary suffix divides, at least 1024: written plainly (Kubernetes: 1025 → "1025")
    ['1.0009765625Ki', '1025'],
    ['1.46484375Ki', '1500'],
    ['2.9296875Ki', '3000'],
    // BinarySI below 1024, or fractional: decimal SI (Kubernetes: 5 → "5", 0.5 → "500m")
    ['0.5Ki', '512'],
    ['0.9765625Ki', '1k'],
    ['0.0048828125Ki', '5'],
    ['0.00048828125Ki', '500m'],
    ['-1.5Gi', '-1536Mi'],
    // DecimalSI: exponents in multiples of three
    ['1000M', '1G'],
    ['0.001T', '1G'],
    ['1000000000', '1G'],
    ['1500000', '1500k'],
    ['1500', '1500'],
    ['3000', '3k'],
    ['1.08', '1080m'],
    ['0.1', '100m'],
    ['1000u', '1m'],
    ['0.0015', '1500u'],
    ['1080n', '1080n'],
    ['1234567M', '1234567M'],
    ['1000E', '1000E'], // beyond the E suffix: the mantissa grows (Kubernetes drops the suffix here)
    ['00', '0'],
    ['-0', '0'],
    // DecimalExponent: the same mantissa with e<exponent>
    ['.001e12', '1e9'],
    ['0.001e0', '1e-3'],
    ['1000e-12', '1e-9'],
    ['80e-3', '80e-3'],
    ['300e6', '300e6'],
    ['1e4', '10e3'],
    ['1.2e3', '1200'],
    ['0.5e0', '500e-3'],
    ['1e21', '1e21'],
    ['-1e4', '-10e3'],
  ])('%s → %s', (text, canonical) => {
    expect(formatQuantity(parseQuantity(text))).toBe(canonical);
  });

  it('formatBytes uses binary SI: 10Gi, 1536Mi, 1025, and 1k for 1000 bytes', () => {
    expect(formatBytes(10n * GiB)).toBe('10Gi');
    expect(formatBytes(1536n * MiB)).toBe('1536Mi');
    expect(formatBytes(1025n)).toBe('1025');
    expect(formatBytes(1000n)).toBe('1k');
    expect(formatBytes(1023n)).toBe('1023');
    expect(formatBytes(0n)).toBe('0');
    expect(formatBytes(11_258_999_068_426_240n)).toBe('10Pi');
  });
});

describe('formatBytesHuman', () => {
  it.each([
    [0n, '0 B'],
    [1023n, '1023 B'],
    [1024n, '1 KiB'],
    [1536n, '1.5 KiB'],
    [1075n, '1 KiB'], // 1.0498 rounds to 1.0
    [1076n, '1.1 KiB'], // 1.0508 rounds half up to 1.1
    [10n * GiB, '10 GiB'],
    [(98n * GiB) / 10n, '9.8 GiB'],
    [MiB - 1n, '1 MiB'], // not "1024 KiB"
    [GiB - 1n, '1 GiB'],
    [-1536n, '-1.5 KiB'],
    [2048n * Ki ** 6n, '2048 EiB'],
    [11_258_999_068_426_240n, '10 PiB'],
  ])('%s → %s', (bytes, text) => {
    expect(formatBytesHuman(bytes)).toBe(text);
  });
});

describe('round trips (property)', () => {
  const formats: QuantityFormat[] = ['BinarySI', 'DecimalSI', 'DecimalExponent'];
  const nanos = fc.oneof(
    fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }),
    fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
    // whole multiples of binary and decimal units, where suffix choice matters
    fc
      .tuple(
        fc.bigInt({ min: -100_000n, max: 100_000n }),
        fc.constantFrom(1n, Ki, Ki ** 2n, Ki ** 3n, Ki ** 6n, 1000n, 10n ** 18n),
      )
      .map(([m, unit]) => m * unit * NANO),
  );

  it('parseQuantity(formatQuantity(x)).nanos === x.nanos for any value and format', () => {
    fc.assert(
      fc.property(nanos, fc.constantFrom(...formats), (n, format) => {
        const text = formatQuantity({ nanos: n, format });
        expect(parseQuantity(text).nanos).toBe(n);
      }),
      { numRuns: 3000 },
    );
  });

  it('formatQuantity is canonical: formatting the re-parsed text gives the same text', () => {
    fc.assert(
      fc.property(nanos, fc.constantFrom(...formats), (n, format) => {
        const text = formatQuantity({ nanos: n, format });
        const again = parseQuantity(text);
        // Re-parsing a plain integer yields DecimalSI; the value, not the family, is what must hold.
        expect(formatQuantity({ nanos: again.nanos, format })).toBe(text);
      }),
    );
  });

  it('parseBytes(formatBytes(b)) === b for any byte count, up to 2^80', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 80n }), (b) => {
        expect(parseBytes(formatBytes(b))).toBe(b);
      }),
      { numRuns: 3000 },
    );
  });
});
