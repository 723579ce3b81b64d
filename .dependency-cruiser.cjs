/**
 * Which way imports may point. Run by `npm test` (npm run depcheck).
 *  - packages/core is pure: no Node built-ins with I/O, no Kubernetes client,
 *    no database driver, nothing of ours outside itself.
 *  - the CLI (src/) never imports packages/probe.
 *  - the probe knows nothing of Kubernetes.
 *  - the CLI never imports the CNPG-I plugin nor gRPC (it reads the plugin's
 *    sidecar over HTTP); the plugin may import core and the probe, and no
 *    Kubernetes client (it works on the JSON the operator sends).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
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
