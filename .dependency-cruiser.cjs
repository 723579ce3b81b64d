/**
 * Which way imports may point. Run by `npm test` (npm run depcheck).
 *  - packages/core is pure: no Node built-ins with I/O, no Kubernetes client,
 *    no database driver, nothing of ours outside itself.
 *  - the CLI (src/) never imports packages/probe.
 *  - the probe knows nothing of Kubernetes.
 *  - the CLI never imports the CNPG-I plugin nor gRPC (it reads the plugin's
 *    sidecar over HTTP); the plugin may import core and the probe, and no
 *    Kubernetes client (it works on the JSON the operator sends).
 *  - src/ is layered (LAYERS below, bottom first): a module imports only from
 *    layers below its own (and its own folder); nothing imports in a circle.
 */

/**
 * The layers of src/, bottom first. A layer may import from every layer with
 * a lower rank, never from one with a higher or equal rank (two layers of
 * equal rank, app and controller, do not import each other).
 * src/cli is split: the terminal (io.ts) and the policy-file reader sit low,
 * so render and app can use them; the dependency bag (deps.ts) sits just
 * above kube (it builds the client); the command plumbing (base.ts,
 * flags.ts, invocation.ts) sits just below the commands.
 */
const LAYERS = [
  { name: 'model', rank: 1, path: '^src/model/' },
  { name: 'cli-io', rank: 2, path: '^src/cli/(io|policy-file)\\.ts$' },
  { name: 'kube', rank: 3, path: '^src/kube/' },
  { name: 'cli-deps', rank: 4, path: '^src/cli/deps\\.ts$' },
  { name: 'sources', rank: 5, path: '^src/sources/' },
  { name: 'snapshot', rank: 6, path: '^src/snapshot/' },
  { name: 'analysis', rank: 7, path: '^src/analysis/' },
  { name: 'render', rank: 8, path: '^src/render/' },
  // The resize actions (plan, the guarded write, the spec update), shared by
  // `disk resize` (app) and the autoresizer (controller), which may not import each other.
  { name: 'actions', rank: 8.5, path: '^src/actions/' },
  { name: 'app', rank: 9, path: '^src/app/' },
  { name: 'controller', rank: 9, path: '^src/controller/' },
  { name: 'cli-command', rank: 10, path: '^src/cli/(base|flags|invocation|not-found|complete|hooks/version)\\.ts$' },
  { name: 'commands', rank: 11, path: '^src/commands/' },
];

/**
 * One rule per layer: nothing from a layer above it (or a sibling of equal
 * rank). The top layer (commands) has nothing above it, so no rule.
 */
const layerRules = LAYERS.filter((layer) => LAYERS.some((l) => l !== layer && l.rank >= layer.rank)).map((layer) => ({
  name: `layer-${layer.name}`,
  severity: 'error',
  comment: `src layer "${layer.name}" imports only from the layers below it (${
    LAYERS.filter((l) => l.rank < layer.rank)
      .map((l) => l.name)
      .join(', ') || 'core only'
  }).`,
  from: { path: layer.path },
  to: {
    path: LAYERS.filter((l) => l !== layer && l.rank >= layer.rank)
      .map((l) => `(${l.path})`)
      .join('|'),
  },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import circles: each module can be understood (and tested) from the ones below it.',
      from: { path: '^(src|packages/[^/]+/src)' },
      to: { circular: true },
    },
    {
      name: 'src-every-file-in-a-layer',
      severity: 'error',
      comment: 'Every module of src/ belongs to a layer (add a new folder to LAYERS in .dependency-cruiser.cjs).',
      from: { path: '^src/', pathNot: `^src/index\\.ts$|${LAYERS.map((l) => `(${l.path})`).join('|')}` },
      to: {},
    },
    {
      name: 'core-no-io',
      severity: 'error',
      comment: 'packages/core must stay platform-neutral: no I/O modules, no Kubernetes client.',
      from: { path: '^packages/core/src' },
      to: {
        dependencyTypes: ['core'],
      },
    },
    {
      name: 'core-no-third-party-io',
      severity: 'error',
      comment: 'packages/core must not depend on clients or drivers.',
      from: { path: '^packages/core/src' },
      to: { path: '(^|/)node_modules/', pathNot: '^$' },
    },
    {
      name: 'core-self-contained',
      severity: 'error',
      comment: 'packages/core imports nothing of ours outside itself.',
      from: { path: '^packages/core/src' },
      to: { path: '^(src|bin|test|packages/(?!core/))' },
    },
    {
      name: 'cli-not-probe',
      severity: 'error',
      comment: 'The CLI never contains the probe (it runs where the volumes are mounted).',
      from: { path: '^(src|bin)/' },
      to: { path: '(^packages/probe/|@cnpg-disk/probe)' },
    },
    {
      name: 'cli-not-plugin',
      severity: 'error',
      comment: 'The CLI never contains the CNPG-I plugin (it runs in the cluster).',
      from: { path: '^(src|bin)/' },
      to: { path: '(^packages/plugin/|@cnpg-disk/plugin)' },
    },
    {
      name: 'cli-no-grpc',
      severity: 'error',
      comment: 'gRPC and its protobuf runtime stay out of the CLI and its bundle.',
      from: { path: '^(src|bin)/' },
      to: { path: '(^|/)node_modules/(@grpc|protobufjs|@protobufjs)/' },
    },
    {
      name: 'plugin-no-kubernetes',
      severity: 'error',
      comment: 'The plugin works on the JSON the operator sends; it talks to no API server.',
      from: { path: '^packages/plugin/src' },
      to: { path: '@kubernetes/client-node' },
    },
    {
      name: 'plugin-only-core-and-probe',
      severity: 'error',
      comment: 'The plugin may import core and the probe, nothing else of ours.',
      from: { path: '^packages/plugin/src' },
      to: { path: '^(src|bin|test)/' },
    },
    {
      name: 'probe-no-kubernetes',
      severity: 'error',
      comment: 'The probe knows nothing of Kubernetes.',
      from: { path: '^packages/probe/src' },
      to: { path: '@kubernetes/client-node' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: { path: '^(src|packages/[^/]+/src)' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Build output is not cruised, but an import that lands in it (a workspace package such as
    // @cnpg-disk/probe resolves to its dist/) keeps its edge, so the rules above see it.
    doNotFollow: { path: ['node_modules', '(^|/)dist/'] },
    exclude: { path: '(^|/)coverage/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
