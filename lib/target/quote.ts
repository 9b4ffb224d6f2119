/** Quoting for the POSIX shell that runs repo-sync's target scripts (pure). */

/** Quotes a value for a POSIX shell (single quotes; embedded quotes closed and escaped). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
