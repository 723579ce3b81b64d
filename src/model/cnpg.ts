/** CloudNativePG's API group and version (the Cluster resource). */
export const CNPG_GROUP = 'postgresql.cnpg.io';
export const CNPG_VERSION = 'v1';
