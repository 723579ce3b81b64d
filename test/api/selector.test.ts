// Label selectors (-l) as the API server itself reads them. Clusters with
// various labels are created on a REAL kube-apiserver + etcd (test/infra);
// for each selector we compare
//   1. the API server's own answer (list clusters?labelSelector=…: the names,
//      or 400 for a selector it refuses),
//   2. core's parser and matcher (parseLabelSelector / matchesLabelSelector)
//      on the same Clusters' labels, for every selector below, and
//   3. for a subset, the built CLI live (`disk status -l`) and offline on a
//      bundle written from the same server (`diagnose --bundle`, then
//      `disk status --from-bundle -l`): the same cluster sets, and a
//      malformed selector is exit 64 on both paths.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesLabelSelector, parseLabelSelector } from '@cnpg-disk/core';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { cli, requireBuiltCli } from '../helpers/cli.js';

const NS = 'sel';
const CLUSTERS: Record<string, Record<string, string>> = {
  a: { team: 'pay', tier: 'db', n: '10' },
  b: { team: 'pay', tier: 'cache', n: '3' },
  c: { team: 'ops', 'example.com/env': 'prod' },
  d: { team: 'ops', tier: '', 'example.com/env': 'dev', n: '0' },
  e: {},
  f: { legacy: 'yes', n: 'x1' },
};

/** Valid and malformed selectors, edge cases of the grammar included. */
const SELECTORS = [
  '',
  ' ',
  'team=pay',
  'team==pay',
  'team = pay',
  'team!=pay',
  'team',
  '!team',
  '! team',
  'tier',
  'tier=',
  'tier!=',
  'tier in (db,cache)',
  'tier in (db, cache)',
  'tier notin (db)',
  'tier in ()',
  'tier in (,)',
  'tier in (db,)',
  'tier in (,db)',
  'tier in (db,,cache)',
  'tier in (db,,)',
  'tier in (,,)',
  'tier in db',
  'tier in (db cache)',
  'team=pay,tier=db',
  'team=pay,!legacy',
  'example.com/env=prod',
  'example.com/env',
  'example.com/env notin (prod)',
  'n>5',
  'n<0',
  'n>x',
  'n>-1',
  'n>',
  'in=x',
  'team in (in)',
  'team=pay,',
  ',team=pay',
  'team=pay,,tier',
  '!team=pay',
  'team=pay=x',
  'team=(pay)',
  'team pay',
  'team===pay',
  '-team=pay',
  'team=-pay',
  'team=pay_',
  'Example.com/env=prod',
  'a/b/c',
  '/team',
  'example.com/',
  `team=${'x'.repeat(64)}`,
  `${'x'.repeat(64)}=1`,
  'team=pay\tor\nx',
  'team\t=\tpay',
];

let api: ApiServerHandle;
let dir: string;
let bundle: string;

async function apiAnswer(selector: string): Promise<string[] | 'refused'> {
  const q = selector === '' ? '' : `?labelSelector=${encodeURIComponent(selector)}`;
  const r = await api.request('GET', `/apis/postgresql.cnpg.io/v1/namespaces/${NS}/clusters${q}`);
  if (r.status === 400) return 'refused';
  expect(r.status).toBe(200);
  return r
    .json<{ items: { metadata: { name: string } }[] }>()
    .items.map((i) => i.metadata.name)
    .sort();
}

function coreAnswer(selector: string): string[] | 'refused' {
  const p = parseLabelSelector(selector);
  if (!p.ok) return 'refused';
  return Object.entries(CLUSTERS)
    .filter(([, l]) => matchesLabelSelector(p.selector, l))
    .map(([n]) => n)
    .sort();
}

async function cliAnswer(args: string[]): Promise<string[] | 'refused'> {
  const r = await cli([...args, '-o', 'json']);
  if (r.code === 64) return 'refused';
  const doc = JSON.parse(r.stdout) as { clusters: { name: string }[] };
  return doc.clusters.map((c) => c.name).sort();
}

beforeAll(async () => {
  requireBuiltCli();
  dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-selector-'));
  api = await startApiServer();
  const ns = await api.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  });
  expect(ns.status).toBe(201);
  for (const [name, labels] of Object.entries(CLUSTERS)) {
    const r = await api.request('POST', `/apis/postgresql.cnpg.io/v1/namespaces/${NS}/clusters`, {
      body: {
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'Cluster',
        metadata: { name, namespace: NS, labels },
        spec: { instances: 1, storage: { size: '1Gi' } },
      },
    });
    expect(r.status, r.body).toBe(201);
  }
  bundle = join(dir, 'sel.tar.gz');
  const w = await cli(['diagnose', '-n', NS, '--bundle', bundle, '--kubeconfig', api.kubeconfigPath, '-o', 'json']);
  expect(w.stderr).toMatch(/bundle written/);
}, 240_000);

afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('label selectors: core vs the API server', () => {
  it(`${SELECTORS.length} selectors: the same clusters, the same refusals`, async () => {
    const diffs: string[] = [];
    let refused = 0;
    for (const s of SELECTORS) {
      const [server, core] = [await apiAnswer(s), coreAnswer(s)];
      if (server === 'refused') refused++;
      if (JSON.stringify(server) !== JSON.stringify(core)) {
        diffs.push(`${JSON.stringify(s)}: api ${JSON.stringify(server)} core ${JSON.stringify(core)}`);
      }
    }
    expect(diffs).toEqual([]);
    expect(refused).toBeGreaterThan(10); // the list exercises both sides
  });
});

describe('label selectors: the CLI live and on a bundle from the same server', () => {
  const SUBSET = [
    'team=pay',
    'team!=pay',
    '!team',
    'tier in (db,cache)',
    'tier notin (db)',
    'tier=',
    'example.com/env',
    'n>5',
    'team=pay,!legacy',
    'tier in (db,,)',
    'team pay',
    'team=-pay',
  ];
  for (const s of SUBSET) {
    it(JSON.stringify(s), async () => {
      const server = await apiAnswer(s);
      const live = await cliAnswer(['disk', 'status', '-n', NS, '-l', s, '--kubeconfig', api.kubeconfigPath]);
      const offline = await cliAnswer(['disk', 'status', '--from-bundle', bundle, '-l', s]);
      expect({ live, offline }).toEqual({ live: server, offline: server });
    });
  }
});
