// Read-only commands leave the cluster unchanged: every request they make, as
// the API server's audit log records it, is a read (or one of the questions
// that are not writes: SelfSubjectAccessReview, exec and port-forward
// sessions). The CLI runs as its own user so its requests can be told apart,
// and a `disk resize --apply` by the same user proves the check sees writes.
// Local cluster only: it needs the audit log.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cli } from './lib/cli.js';
import { createCluster } from './lib/cnpg.js';
import { Kube, exec } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const CLUSTER = 'pgro';
let ns = '';
let tmp = '';
let user = '';
let cli: Cli | undefined;

interface AuditEvent {
  verb: string;
  stage: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  requestURI: string;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** Requests with a write verb that change nothing. */
function isQuestion(e: AuditEvent): boolean {
  const r = e.objectRef?.resource ?? '';
  const sub = e.objectRef?.subresource ?? '';
  return (
    ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'].includes(r) ||
    (r === 'pods' && ['exec', 'portforward', 'proxy'].includes(sub))
  );
}

function eventsOf(username: string): AuditEvent[] {
  const log = cfg.auditLog ?? '';
  if (!existsSync(log)) throw new Error(`no audit log at ${log}`);
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"username":"${username}"`))
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete' || e.stage === 'ResponseStarted');
}

function writes(events: AuditEvent[]): string[] {
  return events.filter((e) => WRITE_VERBS.has(e.verb) && !isQuestion(e)).map((e) => `${e.verb} ${e.requestURI}`);
}

describe.runIf(cfg.local)('read-only commands in the API audit log', () => {
  beforeAll(async () => {
    ns = await kube.createNamespace('readonly');
    tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-readonly-'));
    user = `cnpg-e2e-cli-${ns.slice(-6)}`;
    const minted = await exec('bash', [join(cfg.repoDir, 'test/cluster/kubeconfig-for.sh'), user, 'system:masters']);
    expect(minted.code, minted.stderr).toBe(0);
    cli = new Cli(cfg, minted.stdout.trim());
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 2,
      dataSize: '256Mi',
      walSize: '256Mi',
    });
    writeFileSync(
      join(tmp, 'policy.yaml'),
      'storage:\n  resize:\n    enabled: true\n    triggers: { usageThreshold: 1 }\n    expansion: { step: 64Mi, limit: 1Gi }\n',
    );
  });

  afterAll(async () => {
    cli?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (ns) await kube.deleteNamespace(ns);
  });

  it('disk status, wal health, diagnose (with a bundle), resize preview and policy validate make no write', async () => {
    const c = cli as Cli;
    const runs: [string, string[]][] = [
      ['disk status', ['disk', 'status', '-n', ns, CLUSTER]],
      ['disk status -A -o json', ['disk', 'status', '-A', '-o', 'json']],
      ['disk status --source kubelet-summary', ['disk', 'status', '-n', ns, '--source', 'kubelet-summary']],
      ['wal health', ['wal', 'health', '-n', ns, CLUSTER, '-o', 'wide']],
      ['diagnose --bundle', ['diagnose', '-n', ns, CLUSTER, '--bundle', join(tmp, 'bundle.tar.gz')]],
      ['disk resize (preview)', ['disk', 'resize', '-n', ns, CLUSTER, '--policy', join(tmp, 'policy.yaml')]],
      ['disk policy validate --cluster', ['disk', 'policy', 'validate', '--cluster', CLUSTER, '-n', ns]],
    ];
    for (const [what, args] of runs) {
      const r = await c.run(args);
      expect([0, 1, 2], `${what}: exit ${r.code}: ${r.stderr}`).toContain(r.code);
    }
    expect(existsSync(join(tmp, 'bundle.tar.gz'))).toBe(true);
    const events = eventsOf(user);
    // The commands did talk to the API server as this user (the filter works)...
    expect(events.length).toBeGreaterThan(10);
    expect(events.some((e) => e.verb === 'list')).toBe(true);
    // ...and made no write.
    expect(writes(events)).toEqual([]);
  });

  it('sees the write of disk resize --apply by the same user (the check can fail)', async () => {
    const c = cli as Cli;
    const before = writes(eventsOf(user)).length;
    const r = await c.run([
      'disk',
      'resize',
      '-n',
      ns,
      CLUSTER,
      '--policy',
      join(tmp, 'policy.yaml'),
      '--instance',
      `${CLUSTER}-1`,
      '--apply',
      '--yes',
    ]);
    expect([0, 1], `exit ${r.code}: ${r.stderr}`).toContain(r.code);
    const after = writes(eventsOf(user));
    expect(after.length).toBeGreaterThan(before);
    expect(after.some((w) => w.startsWith('patch ') && w.includes(`/persistentvolumeclaims/${CLUSTER}-1`))).toBe(true);
  });
});
