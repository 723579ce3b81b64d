/**
 * The one sanitiser for text that reaches a terminal: names, labels, messages
 * and log lines come from a bundle or the cluster, and both are untrusted. A
 * raw ESC can clear the screen (ESC[2J), set the window title (OSC 0), or
 * hide or rewrite what came before; C1 controls (U+0080–U+009F, e.g. U+009B,
 * a one-character CSI) do the same on terminals that honour them; bidi
 * overrides (U+202A–U+202E, U+2066–U+2069) reorder what is shown.
 *
 * Every such character is replaced by a visible escape (`\x1b`, `\u202e`), so
 * the text stays readable and nothing is lost. Tabs and newlines are kept
 * only where a caller prints lines (`keepNewlines`); in a table cell or a
 * single field they are escaped too. Pure; JSON and YAML output do not use it
 * (those formats escape by themselves and stay exact).
 */
// C0 except tab and newline, DEL, C1, bidi embeddings/overrides/isolates.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_WITH_LINES = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escape(ch: string): string {
  const c = ch.charCodeAt(0);
  return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** `text` with every terminal control character shown as an escape. */
export function sanitize(text: string, opts: { keepNewlines?: boolean } = {}): string {
  return text.replace(opts.keepNewlines ? UNSAFE : UNSAFE_WITH_LINES, escape);
}

/**
 * Text we produced ourselves and that may hold our own colour codes
 * (`paint`): a table prints it as it is. Everything else is sanitised.
 */
export class TrustedText {
  constructor(readonly text: string) {}
}

export function trusted(text: string): TrustedText {
  return new TrustedText(text);
}

/** A table cell or a field for a terminal. */
export function cellText(cell: string | TrustedText): string {
  return cell instanceof TrustedText ? cell.text : sanitize(cell);
}
