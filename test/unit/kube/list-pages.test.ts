// A hostile or broken API server that hands back the same continue token
// forever must not keep a list reading forever. The server here is a small
// local HTTP server (a real kube-apiserver never does this, so it cannot be
// made to); everything else — KubeClient, its HTTP request, the JSON — is real.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.js';
import { KubeApiError } from '../../../src/kube/errors.js';
import { KubeConfigData } from '../../../src/kube/kubeconfig.js';
import { listAll } from '../../../src/snapshot/collect.js';

let server: Server;
let hits = 0;
let client: KubeClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname.endsWith('/loop')) {
      res.end(JSON.stringify({ items: [{ metadata: { name: `o${hits}` } }], metadata: { continue: 'same' } }));
    } else {
      // two honest pages, then the end
      const page = url.searchParams.get('continue') === 'p2' ? 2 : 1;
      res.end(
        JSON.stringify({ items: [{ metadata: { name: `p${page}` } }], metadata: page === 1 ? { continue: 'p2' } : {} }),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  client = new KubeClient(
    KubeConfigData.fromParts({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: false }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    }),
    5_000,
  );
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('listAll', () => {
  it('follows continue tokens to the end', async () => {
    const got = await listAll(client, '/api/v1/pods', {}, 'list pods');
    expect(got.map((o) => (o['metadata'] as { name: string }).name)).toEqual(['p1', 'p2']);
  });

  it('stops with an error when the server repeats a continue token', async () => {
    hits = 0;
    const e = await listAll(client, '/api/v1/loop', {}, 'list loop').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KubeApiError);
    expect((e as KubeApiError).message).toBe('the API server answered list loop with the same continue token twice');
    expect(hits).toBe(2);
  });
});
