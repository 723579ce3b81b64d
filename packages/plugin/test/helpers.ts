/**
 * What the plugin's tests need from the machine: the CNPG-I .proto files
 * (scripts/protos.sh), the Go CNPG-I client (grpc-client/, built once per
 * source hash into the cache, serialized with flock), and certificates made by
 * openssl (self-signed, as the install makes them).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLIENT_SRC = join(PKG, 'test', 'grpc-client');

export function ensureProtos(): string {
  return execFileSync('bash', [join(PKG, 'scripts', 'protos.sh')], { encoding: 'utf8' }).trim();
}

/** Builds (or reuses) the Go client; returns its path. A cold build takes minutes (CloudNativePG's pod builder). */
export function goClient(): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(CLIENT_SRC, f)));
  const cache = process.env['CNPG_DISK_CACHE'] ?? join(homedir(), '.cache', 'cnpg-disk');
  const bin = join(cache, 'bin', `plugin-grpc-client-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dirname(bin), { recursive: true });
  const script = `[ -x "$1" ] || { go build -trimpath -o "$1.tmp" . && mv "$1.tmp" "$1"; }`;
  execFileSync('flock', [`${bin}.lock`, 'bash', '-c', script, 'build', bin], {
    cwd: CLIENT_SRC,
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return bin;
}

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

/** Runs the Go client; never throws on its exit code. */
export function runClient(bin: string, args: string[]): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile(bin, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        // not JSON: the test looks at stderr
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** A self-signed certificate (EC P-256) for `cn`, with DNS names; PEM files in dir. */
export function selfSigned(dir: string, cn: string, dnsNames: string[] = []): { cert: string; key: string } {
  const cert = join(dir, `${cn}.crt`);
  const key = join(dir, `${cn}.key`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];
  args.push('-subj', `/CN=${cn}`, '-keyout', key, '-out', cert);
  if (dnsNames.length > 0) args.push('-addext', `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}`);
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { cert, key };
}
