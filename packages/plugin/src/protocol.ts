/**
 * The CNPG-I protocol: the .proto files of the cnpg-i Go module at the version
 * the pinned CloudNativePG requires, extracted at build time by
 * scripts/protos.sh into build/protos (never committed), loaded at run time by
 * @grpc/proto-loader. Field names are camelCase (proto-loader's default),
 * enums are their names, bytes are Buffers.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Where the .proto files are: $CNPG_DISK_PROTOS, else build/protos next to src/ or dist/. */
export function protosDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['CNPG_DISK_PROTOS'] ?? fileURLToPath(new URL('../build/protos', import.meta.url));
}

/** The versions the .proto files come from (the stamp protos.sh writes), e.g. "cnpg-i v0.5.0". */
export function protosVersion(dir: string = protosDir()): string | undefined {
  const stamp = `${dir}/.complete`;
  if (!existsSync(stamp)) return undefined;
  return readFileSync(stamp, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('cnpg-i '));
}

const FILES = ['identity.proto', 'operator.proto', 'operator_lifecycle.proto', 'metrics.proto'];

export interface Protocol {
  Identity: grpc.ServiceDefinition;
  Operator: grpc.ServiceDefinition;
  OperatorLifecycle: grpc.ServiceDefinition;
  Metrics: grpc.ServiceDefinition;
}

/** Loads the services this plugin serves. Throws one sentence when a file is missing or unreadable. */
export function loadProtocol(dir: string = protosDir()): Protocol {
  for (const f of FILES) {
    try {
      accessSync(`${dir}/${f}`, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'ENOENT'
          ? `${dir}/${f} is missing: run packages/plugin/scripts/protos.sh (it extracts the CNPG-I protocol)`
          : `cannot read ${dir}/${f}: ${code ?? (err as Error).message}`,
      );
    }
  }
  const def = protoLoader.loadSync(FILES, {
    includeDirs: [dir],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = (name: string): grpc.ServiceDefinition => {
    const s = def[name];
    // Messages carry `format`; services are maps of method definitions.
    if (!s || 'format' in s) throw new Error(`the CNPG-I protocol has no service ${name}`);
    return s as unknown as grpc.ServiceDefinition;
  };
  return {
    Identity: service('cnpgi.identity.v1.Identity'),
    Operator: service('cnpgi.operator.v1.Operator'),
    OperatorLifecycle: service('cnpgi.operator_lifecycle.v1.OperatorLifecycle'),
    Metrics: service('cnpgi.metrics.v1.Metrics'),
  };
}
