// Running the real CLI the two ways users do: the built binary (node
// bin/run.js, what `npm run e2e` builds first) and through kubectl's plugin
// dispatch, under both names it ships as (docs/distribution.md).
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { E2EConfig } from './config.js';
import { exec, type ExecResult } from './kube.js';

export class Cli {
  private pluginDir: string | undefined;

  constructor(
    private readonly cfg: E2EConfig,
    /** Another identity's kubeconfig (audit-log and RBAC tests). */
    private readonly kubeconfig: string = cfg.kubeconfig,
  ) {}

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, KUBECONFIG: this.kubeconfig, NO_COLOR: '1', CI: '1' };
  }

  /** `node bin/run.js ARGS` (e.g. ['disk', 'status', '-n', ns]). */
  run(args: readonly string[], timeoutMs = 180_000): Promise<ExecResult> {
    return exec(process.execPath, [join(this.cfg.repoDir, 'bin/run.js'), ...args], { env: this.env(), timeoutMs });
  }

  /** Like run, but the command must exit with one of `codes` and print a JSON document. */
  async json<T = Record<string, unknown>>(args: readonly string[], codes: readonly number[] = [0, 1, 2]): Promise<T> {
    const r = await this.run([...args, '-o', 'json']);
    if (!codes.includes(r.code)) {
      throw new Error(`kubectl-cnpg ${args.join(' ')} exited ${r.code} (expected ${codes.join('/')}): ${r.stderr}`);
    }
    return JSON.parse(r.stdout) as T;
  }

  /**
   * `kubectl cnpg ARGS` with the binary on PATH as `name`: kubectl-cnpg
   * (standalone) or kubectl-cnpg-disk (beside the official plugin; kubectl
   * then drops the word "disk" and the binary puts it back).
   */
  viaKubectl(name: 'kubectl-cnpg' | 'kubectl-cnpg-disk', args: readonly string[]): Promise<ExecResult> {
    this.pluginDir ??= mkdtempSync(join(tmpdir(), 'cnpg-e2e-plugins-'));
    const dir = join(this.pluginDir, name);
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, name))) symlinkSync(join(this.cfg.repoDir, 'bin/run.js'), join(dir, name));
    const env = { ...this.env(), PATH: `${dir}:${process.env['PATH'] ?? ''}` };
    return exec(this.cfg.kubectl, ['cnpg', ...args], { env, timeoutMs: 180_000 });
  }

  /**
   * `kubectl cnpg ARGS` with CloudNativePG's own plugin installed as
   * kubectl-cnpg and ours as kubectl-cnpg-disk, the way users run both.
   */
  besideOfficial(official: string, args: readonly string[]): Promise<ExecResult> {
    this.pluginDir ??= mkdtempSync(join(tmpdir(), 'cnpg-e2e-plugins-'));
    const dir = join(this.pluginDir, 'both');
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, 'kubectl-cnpg'))) symlinkSync(official, join(dir, 'kubectl-cnpg'));
    if (!existsSync(join(dir, 'kubectl-cnpg-disk'))) {
      symlinkSync(join(this.cfg.repoDir, 'bin/run.js'), join(dir, 'kubectl-cnpg-disk'));
    }
    const env = { ...this.env(), PATH: `${dir}:${process.env['PATH'] ?? ''}` };
    return exec(this.cfg.kubectl, ['cnpg', ...args], { env, timeoutMs: 180_000 });
  }

  dispose(): void {
    if (this.pluginDir) rmSync(this.pluginDir, { recursive: true, force: true });
  }
}
