#!/usr/bin/env node
// kubectl-cnpg: entry point. `kubectl cnpg disk ...` reaches it either as
// kubectl-cnpg (standalone) or as kubectl-cnpg-disk beside the official plugin
// (kubectl then drops the "disk" word; see docs/distribution.md).
import { execute } from '@oclif/core';
import { argvForInvocation } from '../dist/cli/invocation.js';

await execute({ dir: import.meta.url, args: argvForInvocation(process.argv) });
