/**
 * The chart: used vs provisioned over time, one small panel per policy and
 * run, disk-full spans marked in red. Written as SVG text by hand: the
 * picture is a few paths and rectangles, and no well-kept package draws SVG
 * without a DOM or a canvas (native) dependency, which packages/core cannot
 * have. Pure: data in, a string out.
 */
import type { SimulationResult } from './run.js';

const PANEL_W = 220;
const PANEL_H = 110;
const GAP = 14;
const LEFT = 150;
const TOP = 56;

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function gib(bytes: number): string {
  const g = bytes / 1024 ** 3;
  return g >= 1024 ? `${(g / 1024).toFixed(1)} TiB` : `${g.toFixed(g >= 100 ? 0 : 1)} GiB`;
}

export function simulationChart(runs: readonly SimulationResult[], title: string): string {
  const policies = runs[0]?.results.map((r) => r.policy) ?? [];
  const width = LEFT + policies.length * (PANEL_W + GAP) + GAP;
  const height = TOP + runs.length * (PANEL_H + GAP + 14) + 40;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${GAP}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<g transform="translate(${GAP},36)"><line x1="0" y1="0" x2="18" y2="0" stroke="#1f77b4" stroke-width="2"/><text x="22" y="4">used</text>` +
      `<line x1="70" y1="0" x2="88" y2="0" stroke="#ff7f0e" stroke-width="2"/><text x="92" y="4">provisioned</text>` +
      `<rect x="170" y="-5" width="14" height="10" fill="#d62728" fill-opacity="0.35"/><text x="188" y="4">disk full (available &lt; one WAL segment or the policy's floor)</text></g>`,
  );
  policies.forEach((p, col) => {
    out.push(
      `<text x="${LEFT + col * (PANEL_W + GAP) + PANEL_W / 2}" y="${TOP - 4}" text-anchor="middle" font-weight="bold">${esc(p)}</text>`,
    );
  });
  runs.forEach((run, row) => {
    const y0 = TOP + row * (PANEL_H + GAP + 14);
    const n = run.chartUsed.length;
    let max = 1;
    for (const u of run.chartUsed) max = Math.max(max, u);
    for (const r of run.results) for (const c of r.chart.provisioned) max = Math.max(max, c);
    max *= 1.05;
    out.push(
      `<text x="${GAP}" y="${y0 + PANEL_H / 2}" font-weight="bold">${esc(run.series.name)}</text>`,
      `<text x="${GAP}" y="${y0 + PANEL_H / 2 + 14}" fill="#666">${esc(`${Math.round((run.series.steps * run.series.stepMs) / 86_400_000)} days`)}</text>`,
    );
    const x = (i: number) => (i / Math.max(1, n - 1)) * PANEL_W;
    const y = (b: number) => PANEL_H - (b / max) * PANEL_H;
    const line = (values: ArrayLike<number>, step: boolean) => {
      let d = '';
      for (let i = 0; i < values.length; i++) {
        const px = x(i).toFixed(1);
        const py = y(values[i] as number).toFixed(1);
        if (i === 0) d += `M${px},${py}`;
        else d += step ? `H${px}V${py}` : `L${px},${py}`;
      }
      return d;
    };
    const usedPath = line(run.chartUsed, false);
    run.results.forEach((r, col) => {
      const x0 = LEFT + col * (PANEL_W + GAP);
      out.push(
        `<g transform="translate(${x0},${y0})">`,
        `<rect width="${PANEL_W}" height="${PANEL_H}" fill="#fafafa" stroke="#ccc"/>`,
      );
      // disk-full spans: consecutive full buckets as one rectangle
      for (let i = 0; i < n; i++) {
        if (!r.chart.full[i]) continue;
        let j = i;
        while (j + 1 < n && r.chart.full[j + 1]) j++;
        const w = Math.max(1.5, x(j + 1) - x(i));
        out.push(
          `<rect x="${x(i).toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${PANEL_H}" fill="#d62728" fill-opacity="0.35"/>`,
        );
        i = j;
      }
      out.push(
        `<path d="${line(r.chart.provisioned, true)}" fill="none" stroke="#ff7f0e" stroke-width="1.5"/>`,
        `<path d="${usedPath}" fill="none" stroke="#1f77b4" stroke-width="1"/>`,
        `<text x="3" y="11" fill="#666">${esc(gib(max))}</text>`,
        `<text x="${PANEL_W - 3}" y="${PANEL_H + 12}" text-anchor="end" fill="${r.fullMinutes > 0 ? '#d62728' : '#333'}">${esc(
          `${r.fullMinutes} full min · ${Math.round(r.provisionedGiBHours).toLocaleString('en-US')} GiB·h`,
        )}</text>`,
        `</g>`,
      );
    });
  });
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}
