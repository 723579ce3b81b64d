/**
 * @cnpg-disk/plugin — the CNPG-I plugin: the operator side (Identity,
 * Cluster validation, the lifecycle hook that injects the probe sidecar) and
 * the instance side (Identity, Metrics from the probe). Linux only; never
 * imported by the CLI.
 */
export * from './protocol.js';
export * from './lifecycle.js';
export * from './validation.js';
export * from './metrics.js';
export * from './services.js';
export * from './servers.js';
export { EXIT, USAGE, main, parsePluginArgs, socketAccepts, type PluginCommand } from './cli.js';
