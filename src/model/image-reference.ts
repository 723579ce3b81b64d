/**
 * Is a string a container image reference? `disk install --image` writes the
 * value into a Deployment (and, for the plugin, into every instance Pod's
 * sidecar): a value that is not one must be refused here, with one sentence,
 * not by the kubelet later as an ImagePullBackOff on a database Pod.
 *
 * Written by hand (a few lines) rather than adding a dependency: the grammar
 * is the one container registries and runtimes accept —
 *   [domain[:port]/]path-component(/path-component)*[:tag][@algorithm:hex]
 * where a domain is dot-separated DNS labels (or `localhost`), a path
 * component is lower-case letters and digits joined by `.`, `_`, `__` or
 * runs of `-`, a tag is at most 128 word characters, dots and dashes (not
 * starting with either), and a digest is an algorithm name and at least 32
 * hex digits. The name part is at most 255 characters. IPv6 registry
 * addresses are not accepted (use a DNS name).
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@${DIGEST})?$`);
const MAX_NAME = 255;

/** Why `ref` is not an image reference, or undefined when it is one. */
export function imageReferenceProblem(ref: string): string | undefined {
  if (ref === '') return 'it is empty';
  if (ref.length > 4096) return 'it is longer than 4096 characters';
  const m = REFERENCE.exec(ref);
  if (!m) {
    // eslint-disable-next-line no-control-regex
    if (/[\s\u0000-\u001f\u007f]/.test(ref)) return 'it contains white space or control characters';
    return 'it is not [registry[:port]/]name[:tag][@digest] with lower-case path components';
  }
  if ((m[1] ?? '').length > MAX_NAME) return `its name is longer than ${MAX_NAME} characters`;
  return undefined;
}
