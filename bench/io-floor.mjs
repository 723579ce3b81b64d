// The fleet benchmark's "node I/O floor": the requests one read-only
// `disk status -A` made, made again by a plain Node program that only parses
// the answers. It loads no CLI framework, evaluates nothing and prints one
// line, so its CPU time is the least any Node program can spend on the same
// API traffic; bench/fleet.bench.ts prints our run's CPU beside it.
//
//   node bench/io-floor.mjs REQUESTS.json --kubeconfig KUBECONFIG
//
// KUBECONFIG  a kubeconfig with its CA and client certificate inline (what the
//             test API server writes), of a user allowed to make the requests
// REQUESTS    [{ "verb": "list" | "get" | "create", "path": "/api/v1/pods?limit=500" }, ...]:
//             lists are followed page by page (limit/continue) as they are
//             answered; creates are SelfSubjectAccessReviews, posted with a
//             review body; gets are read as they are. Made as our CLI makes
//             them: the lists at once, the rest eight at a time, on one
//             keep-alive agent.
//
// Plain JavaScript run by node without a loader: tsx would add its own start-up
// to the figure this program exists to bound. The kubeconfig is read with the
// `yaml` package and the requests bounded with `p-limit`, as the CLI does. It
// exits 1 if any answer is not 2xx (the benchmark then refuses its figures).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import YAML from 'yaml';

const { values, positionals } = parseArgs({ options: { kubeconfig: { type: 'string' } }, allowPositionals: true });
const kubeconfigPath = values.kubeconfig;
const requestsPath = positionals[0];
if (!kubeconfigPath || !requestsPath || positionals.length !== 1) {
  console.error('usage: node bench/io-floor.mjs REQUESTS.json --kubeconfig KUBECONFIG');
  process.exit(2);
}
const kc = YAML.parse(readFileSync(kubeconfigPath, 'utf8'));
const ctxName = kc['current-context'];
const ctx = kc.contexts.find((c) => c.name === ctxName).context;
const cluster = kc.clusters.find((c) => c.name === ctx.cluster).cluster;
const user = kc.users.find((u) => u.name === ctx.user).user;
const b64 = (s) => Buffer.from(s, 'base64');
const server = new URL(cluster.server);
const agent = new https.Agent({
  keepAlive: true,
  maxSockets: 16,
  ca: b64(cluster['certificate-authority-data']),
  cert: b64(user['client-certificate-data']),
  key: b64(user['client-key-data']),
});

let bytes = 0;
let requests = 0;
/** Answers other than 2xx: a floor made of refusals would be cheaper than the run it bounds. */
const refused = [];
function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        agent,
        method,
        host: server.hostname,
        port: server.port,
        path,
        headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          requests++;
          if (res.statusCode < 200 || res.statusCode > 299) refused.push(`${method} ${path}: ${res.statusCode}`);
          const buf = Buffer.concat(chunks);
          bytes += buf.length;
          try {
            resolve(JSON.parse(buf.toString('utf8')));
          } catch (e) {
            reject(new Error(`${method} ${path}: ${res.statusCode}: ${e.message}`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function list(path) {
  const url = new URL(path, 'https://x');
  for (;;) {
    const page = await request('GET', url.pathname + url.search);
    const next = page?.metadata?.continue;
    if (!next) return;
    url.searchParams.set('continue', next);
  }
}

const review = JSON.stringify({
  apiVersion: 'authorization.k8s.io/v1',
  kind: 'SelfSubjectAccessReview',
  spec: { resourceAttributes: { verb: 'get', resource: 'pods', subresource: 'proxy' } },
});
const todo = JSON.parse(readFileSync(requestsPath, 'utf8'));
/** A list's first page: the same path without its continue token. */
const firstPage = (path) => {
  const url = new URL(path, 'https://x');
  url.searchParams.delete('continue');
  return url.pathname + url.search;
};
const lists = [...new Set(todo.filter((r) => r.verb === 'list').map((r) => firstPage(r.path)))];
const limit = pLimit(8);
const others = todo
  .filter((r) => r.verb !== 'list')
  .map((r) => limit(() => (r.verb === 'create' ? request('POST', r.path, review) : request('GET', r.path))));
await Promise.all([Promise.all(lists.map(list)), ...others]);
agent.destroy();
if (refused.length > 0) {
  console.error(`${refused.length} of ${requests} requests were not answered 2xx, e.g. ${refused[0]}`);
  process.exit(1);
}
console.log(`${requests} requests, ${bytes} bytes parsed`);
