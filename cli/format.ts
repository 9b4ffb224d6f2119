/**
 * Human and JSON renderings of the CLI's results (pure). JSON keeps the seed's field names where it
 * had them (RepoStatus: vm, host, path, expected, actual, in_sync, error).
 */
import * as path from "node:path";
import type { RepoSyncError } from "../lib/errors";
import type { IncrementalScanResult } from "../lib/scan/scanIncremental";
import type { SecretScanResult } from "../lib/scan/scanRepository";
import type { SyncResult } from "../lib/sync/converge";
import { describeState, type KeptRelease, RepoStatus, stateOf } from "../lib/sync/status";
import type { MigrateResult } from "../lib/sync/migrate";
import type { RollbackResult } from "../lib/sync/rollback";
import { describeRef } from "../lib/source/ref";
import type { SyncSummary } from "../lib/sync/syncAll";
import type { VmHistory } from "../lib/sync/history";
import { describeChanges } from "../lib/transfer/rsyncOutput";

const short = (c?: string) => (c ? c.slice(0, 12) : "-");

/** A status word: in-sync, drift (another revision or a changed tree) or error. */
export function statusWord(s: RepoStatus): "in-sync" | "drift" | "error" {
  const kind = stateOf(s).kind;
  return kind === "in-sync" || kind === "error" ? kind : "drift";
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")).join("\n") + "\n";
}

/** One line per VM: vm, host, expected, actual, state (and why). */
export function formatStatusTable(statuses: RepoStatus[]): string {
  const rows = [["VM", "HOST", "EXPECTED", "ACTUAL", "STATE"]];
  for (const s of statuses) {
    const st = stateOf(s);
    // "error: <reason>" already starts with its word; the others get theirs in front.
    const cell = st.kind === "in-sync" ? "in-sync" : st.kind === "error" ? describeState(st) : `drift: ${describeState(st)}`;
    rows.push([s.vm, s.host, short(s.expected), short(s.actual), cell]);
  }
  const kept = statuses.filter((s) => s.releases).map((s) => `${s.vm} releases (oldest first): ${describeReleases(s)}`);
  return table(rows) + kept.map((l) => `${l}\n`).join("");
}

/** `a1b2c3d4e5f6, 0f9e8d7c6b5a (current), 123456789abc (partial), 3c2b1a... (tampered: 1 modified, ...)` (pure). */
function describeReleases(s: RepoStatus): string {
  const r = s.releases;
  if (!r) return "";
  const current = r.current.kind === "release" ? r.current.commit : undefined;
  const state = (k: KeptRelease) => (k.drift ? ` (tampered: ${describeChanges(k.drift)})` : !k.complete ? " (partial)" : k.verified === false ? " (not checked)" : "");
  const list = r.kept.map((k) => `${short(k.commit)}${k.commit === current ? " (current)" : ""}${state(k)}`);
  const bad = r.current.kind === "bad" ? [`current ${r.current.why}`] : [];
  return [...list, ...bad].join(", ") || "none";
}

/** `repo-sync rollback`: one line per VM. */
export function formatRollback(results: RollbackResult[]): string {
  const how = (r: RollbackResult) => (r.from === r.to ? " (already)" : r.repaired ? `, the release repaired first (${describeChanges(r.repaired)})` : ", release intact: nothing transferred");
  return results.map((r) => (r.error ? failedLine(r.vm, r.error) : `${r.vm}  current ${short(r.from)} -> ${short(r.to)}${how(r)}`)).join("\n") + "\n";
}

/** `repo-sync migrate`: one line per VM. */
export function formatMigrate(results: MigrateResult[]): string {
  const line = (r: MigrateResult) => {
    if (r.error) return failedLine(r.vm, r.error);
    if (r.action === "already") return `${r.vm}  already in that layout (or no tree yet): nothing moved`;
    return `${r.vm}  migrated at ${short(r.revision)}${r.keptReleases ? `; every release kept in ${r.path}/${r.keptReleases} (remove it when you no longer need it)` : ""}`;
  };
  return results.map(line).join("\n") + "\n";
}

/** The migrate document. */
export function migrateJson(results: MigrateResult[]) {
  return {
    ok: results.every((r) => !r.error),
    results: results.map((r) => ({ vm: r.vm, host: r.host, path: r.path, action: r.action ?? "failed", revision: r.revision ?? null, kept_releases: r.keptReleases ?? null, displaced: r.displaced ?? [], error: r.error ? { kind: r.error.kind, message: r.error.message } : null })),
  };
}

/** The rollback document. */
export function rollbackJson(results: RollbackResult[]) {
  return {
    ok: results.every((r) => !r.error),
    results: results.map((r) => ({ vm: r.vm, host: r.host, path: r.path, from: r.from ?? null, to: r.to ?? null, repaired: r.repaired ?? null, displaced: r.displaced ?? [], error: r.error ? { kind: r.error.kind, message: r.error.message } : null })),
  };
}

/** The seed-shaped status document. */
export function statusJson(commit: string, statuses: RepoStatus[]) {
  return {
    ok: statuses.every((s) => s.inSync),
    commit,
    statuses: statuses.map((s) => ({
      vm: s.vm,
      host: s.host,
      via: s.via ?? null,
      path: s.path,
      expected: s.expected ?? null,
      actual: s.actual ?? null,
      marker: s.marker ?? null,
      in_sync: s.inSync,
      state: statusWord(s),
      detail: describeState(stateOf(s)),
      drift: s.drift ?? null,
      error: s.error ? { kind: s.error.kind, message: s.error.message } : null,
      ...(s.releases ? { current: s.releases.current.kind === "release" ? s.releases.current.commit : null, releases: s.releases.kept } : {}),
    })),
  };
}

/** A VM's failure, its message indented under it. */
function failedLine(vm: string, err: RepoSyncError): string {
  return `${vm}  FAILED  ${err.message.split("\n").join("\n      ")}`;
}

function resultLine(r: SyncResult): string {
  const wave = r.wave ? `  wave ${r.wave}` : "";
  if (r.action === "skipped") return `${r.vm}  skipped${wave}  not touched (the rollout stopped before its wave)`;
  if (r.action === "rolled-back") {
    const why = r.error ? `; ${r.error.message.split("\n").join("\n      ")}` : "";
    return `${r.vm}  rolled-back${wave}  serves ${short(r.revision)} again (synced ${short(r.rollback?.from)}, then switched back${r.health?.ok ? "; it was healthy" : ""})${why}`;
  }
  const back = r.rollback?.error ? `\n      still serves ${short(r.rollback.from)}: ${r.rollback.error.message.split("\n").join("\n      ")}` : "";
  if (r.error) return failedLine(r.vm, r.error) + back;
  const what = r.changes && r.action !== "unchanged" ? ` (${describeChanges(r.changes)})` : "";
  const health = r.health?.ok ? `, healthy` : "";
  return `${r.vm}  ${r.action}${wave}  ${short(r.revision)}  ${r.filesTransferred} files, ${r.bytesTransferred} bytes sent, ${(r.durationMs / 1000).toFixed(1)} s${what}${health}${back}`;
}

/** The rollout's closing line: where it stopped, what each VM serves now. */
function rolloutLine(s: SyncSummary): string | undefined {
  const o = s.rollout;
  if (!o || o.stoppedAt === undefined) return undefined;
  const parts = [`rollout stopped after wave ${o.stoppedAt} of ${o.waves.length}: ${o.reason}`];
  if (o.rolledBack.length > 0) parts.push(`switched back to their previous release: ${o.rolledBack.join(", ")}`);
  if (o.leftOnNew.length > 0) parts.push(`${o.onFailure === "stop" ? "left on" : "still on"} ${short(s.commit)}${o.onFailure === "stop" ? " (on_failure: stop)" : " (could not be switched back)"}: ${o.leftOnNew.join(", ")}`);
  if (o.alreadyOnNew.length > 0) parts.push(`already on ${short(s.commit)} before this run (an earlier run switched them; not switched back): ${o.alreadyOnNew.join(", ")}`);
  if (o.movedByOthers.length > 0) parts.push(`moved by another run since (not switched back; see repo-sync history): ${o.movedByOthers.join(", ")}`);
  if (o.untouched.length > 0) parts.push(`not touched: ${o.untouched.join(", ")}`);
  return parts.join("; ");
}

/** Per-VM lines plus a closing summary naming each failure. */
export function formatSyncSummary(s: SyncSummary): string {
  const failed = s.results.filter((r) => r.action === "failed" || (r.action === "rolled-back" && r.error));
  const lines = s.results.map(resultLine);
  if (s.rollout && s.rollout.waves.length > 1) lines.unshift(`rollout: ${s.rollout.waves.map((w, i) => `wave ${i + 1}: ${w.join(", ")}`).join(" | ")}`);
  const stopped = rolloutLine(s);
  if (stopped) lines.push(stopped);
  else lines.push(
    failed.length === 0
      ? `all ${s.results.length} VM(s) at ${short(s.commit)} (${s.refKind && s.ref !== undefined ? describeRef(s.refKind, s.ref) : s.branch})`
      : `${failed.length} of ${s.results.length} VM(s) failed: ${failed.map((r) => r.vm).join(", ")}`,
  );
  return lines.join("\n") + "\n";
}

/**
 * A string read from a VM, safe to print on a terminal (pure): control characters (C0, DEL, C1) and
 * the bidirectional overrides are shown as `\u` escapes, so a line planted in the trail can neither
 * send escape sequences to the terminal nor start a line of its own.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `repo-sync history`: each VM's trail, oldest first. */
export function formatHistory(vms: VmHistory[]): string {
  const out: string[] = [];
  for (const h of vms) {
    out.push(`${h.vm}  ${h.host}:${h.path}`);
    if (h.error) {
      out.push(`  FAILED  ${h.error.message.split("\n").join("\n          ")}`);
      continue;
    }
    if (h.state === "symlink" || h.state === "notfile") out.push(`  .repo-sync.log is ${h.state === "symlink" ? "a symlink" : "not a file"}: not read`);
    else if (!h.entries?.length) out.push("  no history yet");
    // Every field is text from the VM (the trail is as trustworthy as the target directory).
    const rows = (h.entries ?? []).map((e) => [`  ${printable(e.time)}`, e.event, short(e.commit), e.previous ? `from ${short(e.previous)}` : "", printable(e.by), e.result + (e.detail ? `: ${printable(e.detail)}` : "")]);
    if (rows.length > 0) out.push(table(rows).replace(/\n$/, ""));
    if (h.unreadable) out.push(`  (${h.unreadable} line(s) that repo-sync did not write, skipped)`);
  }
  return out.join("\n") + "\n";
}

/** The history document. */
export function historyJson(vms: VmHistory[]) {
  return {
    ok: vms.every((h) => !h.error),
    vms: vms.map((h) => ({
      vm: h.vm, host: h.host, path: h.path,
      state: h.state ?? null,
      entries: (h.entries ?? []).map((e) => ({ time: e.time, event: e.event, commit: e.commit, previous: e.previous ?? null, by: e.by, result: e.result, detail: e.detail ?? null })),
      unreadable: h.unreadable ?? 0,
      error: h.error ? { kind: h.error.kind, message: h.error.message } : null,
    })),
  };
}

/** The sync document. */
export function syncJson(s: SyncSummary) {
  return {
    ok: s.ok,
    commit: s.commit,
    branch: s.branch || null,
    ref: s.ref ?? null,
    ref_kind: s.refKind ?? null,
    warnings: s.warnings,
    results: s.results.map((r) => ({
      vm: r.vm,
      host: r.host,
      path: r.path,
      action: r.action,
      revision: r.revision ?? null,
      previous_revision: r.previousRevision ?? null,
      files_transferred: r.filesTransferred,
      bytes_transferred: r.bytesTransferred,
      literal_bytes: r.literalBytes,
      changes: r.changes ?? null,
      duration_ms: r.durationMs,
      error: r.error ? { kind: r.error.kind, message: r.error.message, exit_code: r.error.exitCode ?? null } : null,
      ...(r.release ? { release: r.release } : {}),
      ...(r.warnings ? { warnings: r.warnings } : {}),
      ...(r.wave !== undefined ? { wave: r.wave } : {}),
      ...(r.health ? { health: { ok: r.health.ok, attempts: r.health.attempts, exit_code: r.health.exitCode ?? null, duration_ms: r.health.durationMs } } : {}),
      ...(r.rollback ? { rollback: { from: r.rollback.from, to: r.rollback.to ?? null, error: r.rollback.error ? { kind: r.rollback.error.kind, message: r.rollback.error.message } : null } } : {}),
    })),
    ...(s.rollout
      ? { rollout: { waves: s.rollout.waves, on_failure: s.rollout.onFailure, stopped_at_wave: s.rollout.stoppedAt ?? null, reason: s.rollout.reason ?? null, rolled_back: s.rollout.rolledBack, left_on_new: s.rollout.leftOnNew, already_on_new: s.rollout.alreadyOnNew, moved_by_others: s.rollout.movedByOthers, untouched: s.rollout.untouched } }
      : {}),
  };
}

/**
 * Findings as `file:line:rule  fingerprint FP` lines (no secret material); FP is relative to the
 * scanned folder, the line its `.gitleaksignore` takes.
 */
export function formatScan(r: SecretScanResult | IncrementalScanResult): string {
  const scope = "totalFiles" in r && !r.full ? `; ${r.scannedFiles} of ${r.totalFiles} files scanned, the others found clean before` : "";
  if (!r.hasSecrets) return `no secrets found in ${r.scannedPath} (gitleaks ${r.toolVersion}, ${r.durationMs} ms${scope})\n`;
  return `${r.findings.length} secret(s) found in ${r.scannedPath} (redacted):\n` + r.findings.map((f) => `  ${f.file}:${f.line}:${f.rule}  fingerprint ${f.fingerprint}`).join("\n") + "\n"
    + `false positive: add its fingerprint as a line of ${path.join(r.scannedPath, ".gitleaksignore")} (commit it) and scan again\n`;
}

/** The seed's SecretScanResult shape. */
export function scanJson(r: SecretScanResult | IncrementalScanResult) {
  return {
    ...("totalFiles" in r ? { scanned_files: r.scannedFiles, total_files: r.totalFiles, full: r.full } : {}),
    has_secrets: r.hasSecrets,
    findings: r.findings,
    redacted: r.redacted,
    tool: r.tool,
    tool_version: r.toolVersion,
    duration_ms: r.durationMs,
    scanned_path: r.scannedPath,
    config_path: r.configPath,
  };
}

/** The document `repo-sync sync --json` prints. */
export type SyncDoc = ReturnType<typeof syncJson>;
/** The document `repo-sync history --json` prints. */
export type HistoryDoc = ReturnType<typeof historyJson>;
/** The document `repo-sync status|verify --json` prints. */
export type StatusDoc = ReturnType<typeof statusJson>;
