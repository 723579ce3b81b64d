export * from './scenarios.js';
export * from './backends.js';
export * from './baselines.js';
export * from './run.js';
export * from './traces.js';
export * from './chart.js';
export * from './report.js';
