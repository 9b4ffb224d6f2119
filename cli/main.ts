/**
 * `repo-sync` command line: sync / status / verify / scan over the library.
 *
 *   repo-sync sync   [VM...] [--branch B | --ref R] [--force] [--no-pull] [--full-scan] [--config PATH] [--json]
 *   repo-sync status [VM...] [--branch B | --ref R] [--checksum] [--config PATH] [--json]
 *   repo-sync verify [VM...] [--branch B | --ref R] [--checksum] [--config PATH] [--json]   exit 0 in sync, 1 drift, 2 error
 *   repo-sync scan   [PATH] [--gitleaks-config PATH] [--json]        exit 0 clean, 1 secrets, 2 error
 *   repo-sync scan   [--full] [--branch B | --ref R] [--config PATH] [--json]   the gate over what sync would push
 *   repo-sync rollback [VM...] [--to COMMIT] [--config PATH] [--json]  releases layout: switch back (the release checked first)
 *   repo-sync migrate  [VM...] --to releases|in_place [--config PATH] [--json]  convert a VM's layout (moves, deletes nothing)
 *   repo-sync history  [VM...] [--config PATH] [--json]   each VM's audit trail (.repo-sync.log)
 *
 * `--ref` names a branch, a tag or a commit (full SHA or a unique prefix); with `--branch` too, or when
 * it names nothing or several things, the run stops with exit 2 before any VM is touched.
 * `--json` prints exactly one JSON document on stdout; messages go to stderr.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../lib/config/load";
import { errorMessage, isRepoSyncError } from "../lib/errors";
import { scanBranch, verifySync } from "../lib/api";
import { quietLogger, stderrLogger } from "../lib/log";
import { cacheDir } from "../lib/paths";
import { scanRepository } from "../lib/scan/scanRepository";
import { migrateTargets } from "../lib/sync/migrate";
import { rollbackTargets } from "../lib/sync/rollback";
import { syncTargets } from "../lib/sync/syncAll";
import { TerminalProgress } from "./progress";
import { formatHistory, formatMigrate, formatRollback, formatScan, formatStatusTable, formatSyncSummary, historyJson, migrateJson, rollbackJson, scanJson, statusJson, syncJson } from "./format";
import { historyOf } from "../lib/sync/history";

/** Exit codes. */
export const EXIT = { ok: 0, drift: 1, failed: 1, secrets: 1, error: 2, usage: 64 } as const;

const USAGE = `usage:
  repo-sync sync   [VM...] [--branch B | --ref R] [--force] [--no-pull] [--full-scan] [--config PATH] [--json]
  repo-sync status [VM...] [--branch B | --ref R] [--checksum] [--config PATH] [--json]
  repo-sync verify [VM...] [--branch B | --ref R] [--checksum] [--config PATH] [--json]
  repo-sync scan   [PATH] [--gitleaks-config PATH] [--json]      a folder
  repo-sync scan   [--full] [--branch B | --ref R] [--config PATH] [--json]  what sync would push
  repo-sync rollback [VM...] [--to COMMIT] [--config PATH] [--json]  releases layout: previous release
  repo-sync migrate  [VM...] --to releases|in_place [--config PATH] [--json]
  repo-sync history  [VM...] [--config PATH] [--json]   switches, rollbacks, failed health checks
default config: ${DEFAULT_CONFIG_PATH}`;

/** The CLI's options (one table for every command). */
const OPTIONS = {
  config: { type: "string", default: DEFAULT_CONFIG_PATH },
  branch: { type: "string" },
  ref: { type: "string" },
  force: { type: "boolean", default: false },
  "no-pull": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  "gitleaks-config": { type: "string" },
  checksum: { type: "boolean", default: false },
  full: { type: "boolean", default: false },
  "full-scan": { type: "boolean", default: false },
  to: { type: "string" },
} as const;

/** The commands `main` runs. */
export const COMMANDS = ["sync", "status", "verify", "scan", "rollback", "migrate", "history"] as const;

/** One of {@link COMMANDS}. */
export type Command = (typeof COMMANDS)[number];

function isCommand(s: string): s is Command {
  return (COMMANDS as readonly string[]).includes(s);
}

/** A parsed command line: a command with its options, or why it is not one. */
export type CommandLine =
  | { command: Command; values: ReturnType<typeof parseOptions>["values"]; positionals: string[] }
  | { help: true }
  | { usageError: string };

function parseOptions(args: string[]) {
  return parseArgs({ args, allowPositionals: true, options: OPTIONS });
}

/** Parses `argv` (without node and script); pure, so the README test can check every command it shows. */
export function parseCommandLine(argv: string[]): CommandLine {
  const [command, ...rest] = argv;
  if (command === "help" || command === "--help" || command === "-h") return { help: true };
  if (!command) return { usageError: "no command given" };
  if (!isCommand(command)) return { usageError: `unknown command ${JSON.stringify(command)}` };
  try {
    const { values, positionals } = parseOptions(rest);
    return { command, values, positionals };
  } catch (err) {
    return { usageError: errorMessage(err) };
  }
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const parsed = parseCommandLine(argv);
  if ("help" in parsed) {
    out(USAGE + "\n");
    return EXIT.ok;
  }
  if ("usageError" in parsed) {
    if (argv.length === 0) {
      out(USAGE + "\n");
      return EXIT.usage;
    }
    process.stderr.write(`repo-sync: ${parsed.usageError}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const command = parsed.command;
  const o = parsed.values;
  const json = o.json === true;
  const logger = json ? quietLogger : stderrLogger;
  try {
    switch (command) {
      case "sync": {
        const config = loadConfig(o.config as string);
        // Live progress only for a person at a terminal: never in --json, a pipe or a log file.
        const progress = !json && process.stderr.isTTY ? new TerminalProgress(process.stderr, logger) : undefined;
        const summary = await syncTargets(config, { vms: parsed.positionals, branch: o.branch, ref: o.ref, force: o.force, pull: !o["no-pull"], fullScan: o["full-scan"] === true, logger: progress?.logger ?? logger, onProgress: progress?.update }).finally(() => progress?.done());
        out(json ? JSON.stringify(syncJson(summary), null, 2) + "\n" : formatSyncSummary(summary));
        return summary.ok ? EXIT.ok : EXIT.failed;
      }
      case "status":
      case "verify": {
        const { commit, statuses } = await verifySync({ configPath: o.config as string, vms: parsed.positionals, branch: o.branch, ref: o.ref, checksum: o.checksum === true });
        out(json ? JSON.stringify(statusJson(commit, statuses), null, 2) + "\n" : formatStatusTable(statuses));
        if (command === "status") return statuses.some((s) => s.error) ? EXIT.error : EXIT.ok;
        if (statuses.some((s) => s.error)) return EXIT.error;
        return statuses.every((s) => s.inSync) ? EXIT.ok : EXIT.drift;
      }
      case "rollback": {
        const results = await rollbackTargets(loadConfig(o.config as string), { vms: parsed.positionals, to: o.to, logger });
        out(json ? JSON.stringify(rollbackJson(results), null, 2) + "\n" : formatRollback(results));
        return results.every((r) => !r.error) ? EXIT.ok : EXIT.failed;
      }
      case "migrate": {
        if (o.to !== "releases" && o.to !== "in_place") {
          process.stderr.write(`repo-sync: migrate needs --to releases or --to in_place\n${USAGE}\n`);
          return EXIT.usage;
        }
        const results = await migrateTargets(loadConfig(o.config as string), { to: o.to, vms: parsed.positionals, logger });
        out(json ? JSON.stringify(migrateJson(results), null, 2) + "\n" : formatMigrate(results));
        return results.every((r) => !r.error) ? EXIT.ok : EXIT.failed;
      }
      case "history": {
        const vms = await historyOf(loadConfig(o.config as string), parsed.positionals);
        out(json ? JSON.stringify(historyJson(vms), null, 2) + "\n" : formatHistory(vms));
        return vms.every((h) => !h.error) ? EXIT.ok : EXIT.failed;
      }
      case "scan": {
        // A folder when one is named; else the gate over what `sync` would push (incremental unless --full).
        const folder = parsed.positionals[0];
        const rules = o["gitleaks-config"] ? path.resolve(o["gitleaks-config"] as string) : undefined;
        const dir = folder === undefined ? undefined : path.resolve(folder);
        const result = dir !== undefined
          ? await scanRepository(dir, { configPath: rules, cacheDir: cacheDir() })
          : await scanBranch(loadConfig(o.config as string), { branch: o.branch, ref: o.ref, full: o.full === true });
        if (result.hasSecrets) logger.alert({ alert: "secrets_found", tool: "gitleaks", path: result.scannedPath, count: result.findings.length, findings: result.findings.map((f) => ({ file: f.file, line: f.line, rule: f.rule })) });
        out(json ? JSON.stringify(scanJson(result), null, 2) + "\n" : formatScan(result));
        return result.hasSecrets ? EXIT.secrets : EXIT.ok;
      }
    }
  } catch (err) {
    if (!isRepoSyncError(err)) throw err;
    if (json) out(JSON.stringify({ ok: false, error: { kind: err.kind, vm: err.vm, message: err.message } }, null, 2) + "\n");
    process.stderr.write(`repo-sync: ${err.message}\n`);
    return EXIT.error;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`repo-sync: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
