/** The plain deploy assets (deploy/autoresizer/), rendered from the same sources as `disk install`. */
import YAML from 'yaml';
import { rulesFile } from './alerts.js';
import { dashboardJson } from './dashboard.js';

export const RULES_FILE = 'cnpg-disk-autoresizer.rules.yaml';
export const DASHBOARD_FILE = 'cnpg-disk-autoresizer.dashboard.json';

export function renderDeployAssets(): Record<string, string> {
  const header = [
    '# Alert rules for the cnpg-disk autoresize controller (docs/autoresize.md).',
    '# Generated from src/controller/install/alerts.ts by deploy/autoresizer/generate.ts: edit there.',
    '# `kubectl cnpg disk install --prometheus-rule` prints the same rules as a PrometheusRule.',
    '',
  ].join('\n');
  return {
    [RULES_FILE]: header + YAML.stringify(rulesFile(), { lineWidth: 0 }),
    [DASHBOARD_FILE]: `${JSON.stringify(dashboardJson(), null, 2)}\n`,
  };
}
