/**
 * @cnpg-disk/core — platform-neutral model, quantities, policy validation and
 * the autoresize decision engine. No I/O, no Kubernetes client.
 */
export * from './quantity.js';
export * from './model.js';
export * from './policy.js';
export * from './validation.js';
export * from './resolve.js';
export * from './plugin-parameters.js';
export * from './ledger.js';
export * from './engine.js';
export * from './events.js';
export * from './codec.js';
export * from './forecast.js';
export * from './metric-names.js';
export * from './sibling-floor.js';
export * from './pvc-state.js';
export * from './wal-safety.js';
export * from './wal-freshness.js';
export * from './engine-input.js';
export * from './event-dedup.js';
export * from './selector.js';
export * from './trend.js';
export * from './simulate/index.js';
