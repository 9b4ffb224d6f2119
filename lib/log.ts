/**
 * Where progress, warnings and alerts go. The CLI prints them on stderr; the Pulumi provider routes
 * them to its own stderr, which the engine shows under the stack's diagnostics.
 */

/** A structured alert (e.g. secrets found); never carries secret material. */
export interface Alert {
  alert: string;
  [key: string]: unknown;
}

/** Sink for messages. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /** One structured line, machine-readable. */
  alert(alert: Alert): void;
}

/** Logs to stderr: `repo-sync: ...` lines, alerts as one JSON line each. */
export const stderrLogger: Logger = {
  info: (m) => process.stderr.write(`repo-sync: ${m}\n`),
  warn: (m) => process.stderr.write(`repo-sync: warning: ${m}\n`),
  alert: (a) => process.stderr.write(`${JSON.stringify({ level: "alert", time: new Date().toISOString(), ...a })}\n`),
};

/** Drops everything but alerts (which still go to stderr). */
export const quietLogger: Logger = { info: () => undefined, warn: () => undefined, alert: stderrLogger.alert };
