/**
 * Certificates for the plugin when cert-manager is not used: two self-signed
 * certificates (ECDSA P-256), one for the plugin's Service (its DNS names as
 * subjectAltName, server auth) and one the operator presents (client auth).
 * Each side trusts exactly the other's certificate, as CloudNativePG's plugin
 * discovery expects (the server secret's tls.crt is the operator's only root).
 *
 * Made by the openssl command (Node's crypto makes keys but not X.509
 * certificates, and a hand-written DER encoder is more to get wrong than a
 * well-kept tool). The keys exist only in memory and in the Secrets the
 * install creates; the temporary directory is removed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN_APP, serviceDnsNames, type PemPair } from './plugin-manifests.js';

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        new Error(
          code === 'ENOENT'
            ? 'openssl is not installed: install it, or use --cert-manager to have cert-manager make the certificates'
            : `openssl failed: ${String(stderr).trim().split('\n')[0] ?? err.message}`,
        ),
      );
    });
  });
}

async function selfSigned(dir: string, name: string, subject: string, ext: string[], days: number): Promise<PemPair> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  args.push('-days', String(days), '-subj', subject, '-keyout', key, '-out', cert);
  for (const e of ext) args.push('-addext', e);
  await openssl(args);
  return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
}

export async function generatePluginCertificates(
  namespace: string,
  days = 825,
): Promise<{ server: PemPair; client: PemPair }> {
  const dir = await mkdtemp(join(tmpdir(), 'cnpg-disk-certs-'));
  try {
    const server = await selfSigned(
      dir,
      'server',
      `/CN=${PLUGIN_APP}`,
      [
        `subjectAltName=${serviceDnsNames(namespace)
          .map((d) => `DNS:${d}`)
          .join(',')}`,
        'extendedKeyUsage=serverAuth',
      ],
      days,
    );
    const client = await selfSigned(dir, 'client', `/CN=${PLUGIN_APP}-client`, ['extendedKeyUsage=clientAuth'], days);
    return { server, client };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
