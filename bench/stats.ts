/** Figures the benchmarks share: the median of samples and the machine's load, as printed beside them. */
import os from 'node:os';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** `uptime`'s three load averages, one decimal each. */
export const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
