// The image reference check `disk install --image` uses (both installs).
import { describe, expect, it } from 'vitest';
import { imageReferenceProblem } from '../../../src/model/image-reference.js';

const DIGEST = `sha256:${'a1'.repeat(32)}`;

describe('imageReferenceProblem', () => {
  it('accepts what registries and runtimes accept', () => {
    for (const ref of [
      'nginx',
      'localhost/kubectl-cnpg-disk:0.1.0',
      'localhost:5000/team/cnpg-disk-plugin:v1.2_3-rc.1',
      'registry.example/a/b/c',
      'REGISTRY.example/x', // the domain is case-insensitive, the path is not
      'a__b/c--d/e.f_g',
      `registry.example/cnpg-disk-plugin@${DIGEST}`,
      `registry.example/cnpg-disk-plugin:0.1.0@${DIGEST}`,
      `x:${'t'.repeat(128)}`,
    ]) {
      expect(imageReferenceProblem(ref), ref).toBeUndefined();
    }
  });

  it('refuses everything else, with the reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['x y', /white space or control/],
      ['x\n', /white space or control/],
      ['x\u001b[2J', /white space or control/],
      ['Registry/Image', /lower-case path components/],
      ['a:b:c', /not \[registry/],
      ['img@sha256:xyz', /not \[registry/],
      ['$(touch\t/tmp/x)', /white space or control/],
      ['$(id)', /not \[registry/],
      ['-leading/dash', /not \[registry/],
      ['a/b/', /not \[registry/],
      ['a//b', /not \[registry/],
      [`x:${'t'.repeat(129)}`, /not \[registry/],
      ['x:.tag', /not \[registry/],
      [`r.example/${'a'.repeat(250)}`, /longer than 255/],
      ['a'.repeat(5000), /longer than 4096/],
    ];
    for (const [ref, reason] of cases) expect(imageReferenceProblem(ref), JSON.stringify(ref)).toMatch(reason);
  });
});
