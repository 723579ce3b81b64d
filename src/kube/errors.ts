/**
 * Maps the errors of @kubernetes/client-node (long ApiException messages,
 * sometimes "Unknown API Status Code!") and of the network onto one type with
 * the HTTP status, the Status reason and a short message.
 */
export class KubeApiError extends Error {
  readonly status: number | undefined;
  readonly reason: string | undefined;
  /** e.g. "get pods/proxy" — what was attempted. */
  readonly action: string;
  constructor(action: string, status: number | undefined, reason: string | undefined, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.action = action;
    this.status = status;
    this.reason = reason;
  }
  get isForbidden(): boolean {
    return this.status === 403;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
  get isConflict(): boolean {
    return this.status === 409;
  }
  get isUnreachable(): boolean {
    return this.status === undefined;
  }
}

function statusMessage(body: unknown): { message?: string; reason?: string } {
  let b: unknown = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return body.trim() ? { message: body.trim().slice(0, 300) } : {};
    }
  }
  if (typeof b === 'object' && b !== null) {
    const o = b as Record<string, unknown>;
    return {
      ...(typeof o['message'] === 'string' ? { message: o['message'] } : {}),
      ...(typeof o['reason'] === 'string' ? { reason: o['reason'] } : {}),
    };
  }
  return {};
}

/** Turns anything thrown by a client call into a KubeApiError. */
export function toKubeError(action: string, e: unknown): KubeApiError {
  if (e instanceof KubeApiError) return e;
  const err = e as { code?: unknown; body?: unknown; message?: unknown; name?: unknown; cause?: unknown };
  if (typeof err?.code === 'number' && err.code >= 100) {
    const { message, reason } = statusMessage(err.body);
    return new KubeApiError(action, err.code, reason, message ?? `HTTP ${err.code}`);
  }
  const text = String(err?.message ?? e);
  if (err?.name === 'AbortError' || /aborted|timeout/i.test(text)) {
    return new KubeApiError(action, undefined, 'Timeout', 'the request timed out');
  }
  const cause = (err?.cause as { code?: string } | undefined)?.code;
  const net = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN|certificate|self.signed/i.exec(
    `${text} ${cause ?? ''}`,
  );
  if (net) return new KubeApiError(action, undefined, net[0], networkWords(net[0], `${text} ${cause ?? ''}`));
  return new KubeApiError(action, undefined, undefined, text.split('\n')[0] ?? text);
}

/**
 * Our own words for network failures: the runtime's text differs between
 * Node and the single-file binaries, and between versions.
 */
function networkWords(code: string, text: string): string {
  const host = /(?:connect \w+|getaddrinfo \w+) ([^\s,]+)/.exec(text)?.[1];
  const upper = code.toUpperCase();
  // Keep the code: people search for it.
  const at = ` (${upper}${host ? ` ${host}` : ''})`;
  switch (upper) {
    case 'ECONNREFUSED':
      return `connection refused${at}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name not found${at}`;
    case 'EHOSTUNREACH':
      return `host unreachable${at}`;
    case 'ECONNRESET':
      return `the connection was reset${at}`;
    case 'ETIMEDOUT':
      return `the connection timed out${at}`;
    default:
      return 'the server certificate is not trusted (check the kubeconfig certificate-authority)';
  }
}
