// A throw-away certificate authority made with the openssl CLI (ECDSA P-256:
// fast to generate, accepted by kube-apiserver, etcd and Node's TLS).
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './proc.js';

export interface TlsMaterial {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
}

export interface IssuedCert extends TlsMaterial {
  readonly certPath: string;
  readonly keyPath: string;
}

export interface CertRequest {
  /** Subject CN (the Kubernetes user name for client certs). */
  readonly commonName: string;
  /** Subject O entries (the Kubernetes groups for client certs). */
  readonly organizations?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly dnsNames?: readonly string[];
  /** Extended key usages; default ['serverAuth']. */
  readonly usages?: readonly ('serverAuth' | 'clientAuth')[];
  readonly days?: number;
}

/** Escapes a value for `openssl -subj` ("/CN=a/O=b"). */
function subjValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\//g, '\\/');
}

export class CertificateAuthority {
  private counter = 0;

  private constructor(
    /** Directory holding the CA and every issued cert. */
    readonly dir: string,
    readonly certPath: string,
    readonly keyPath: string,
    /** PEM of the CA certificate. */
    readonly certPem: string,
  ) {}

  static async create(dir: string, commonName = 'cnpg-disk-test-ca'): Promise<CertificateAuthority> {
    const certPath = join(dir, 'ca.crt');
    const keyPath = join(dir, 'ca.key');
    const cnf = join(dir, 'ca.cnf');
    await writeFile(
      cnf,
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = v3_ca',
        'prompt = no',
        '[dn]',
        `CN = ${commonName}`,
        '[v3_ca]',
        'basicConstraints = critical, CA:TRUE',
        'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
        'subjectKeyIdentifier = hash',
        '',
      ].join('\n'),
    );
    await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-nodes',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '3650',
      '-sha256',
      '-config',
      cnf,
    ]);
    return new CertificateAuthority(dir, certPath, keyPath, await readFile(certPath, 'utf8'));
  }

  /** Issues a leaf certificate signed by this CA (files stay in `dir`). */
  async issue(req: CertRequest): Promise<IssuedCert> {
    const base = join(this.dir, `cert-${++this.counter}-${randomBytes(3).toString('hex')}`);
    const keyPath = `${base}.key`;
    const csrPath = `${base}.csr`;
    const certPath = `${base}.crt`;
    const extPath = `${base}.ext`;
    const subject =
      `/CN=${subjValue(req.commonName)}` + (req.organizations ?? []).map((o) => `/O=${subjValue(o)}`).join('');
    const sans = [...(req.ipAddresses ?? []).map((ip) => `IP:${ip}`), ...(req.dnsNames ?? []).map((d) => `DNS:${d}`)];
    await writeFile(
      extPath,
      [
        '[v3]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature, keyEncipherment',
        `extendedKeyUsage = ${(req.usages ?? ['serverAuth']).join(', ')}`,
        'authorityKeyIdentifier = keyid',
        ...(sans.length > 0 ? [`subjectAltName = ${sans.join(', ')}`] : []),
        '',
      ].join('\n'),
    );
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
    await run('openssl', ['req', '-new', '-key', keyPath, '-subj', subject, '-out', csrPath]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csrPath,
      '-CA',
      this.certPath,
      '-CAkey',
      this.keyPath,
      '-set_serial',
      `0x${randomBytes(12).toString('hex')}`,
      '-days',
      String(req.days ?? 30),
      '-sha256',
      '-extfile',
      extPath,
      '-extensions',
      'v3',
      '-out',
      certPath,
    ]);
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { cert, key, certPath, keyPath };
  }
}
