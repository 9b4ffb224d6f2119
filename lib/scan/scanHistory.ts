/**
 * The secret gate for a pushed `.git` (exclude_dot_git: false): every commit's changes (gitleaks
 * `git`, which reads `git log -p` of every ref) and every commit message (which `gitleaks git` does not
 * read). It runs over the `.git` built by source/exportHistory.ts, which holds exactly what is pushed.
 * Cached per commit + rules + gitleaks version, like the tree scan.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { runProgram } from "../process/run";
import { Finding, parseGitleaksReport } from "./gitleaksReport";
import { gitleaksArgs, gitleaksVersion, LEAKS_EXIT_CODE, scanRepository } from "./scanRepository";

/** Options for {@link scanHistory}. */
export interface HistoryScanOptions {
  /** The rules file the tree scan used (always passed with --config). */
  rulesPath: string;
  /** Folder whose `.gitleaksignore` applies (the commit's exported tree); gitleaks runs there. */
  ignoreDir: string;
  /** Report lines marked `gitleaks:allow` too (as the tree scan does with the same setting). */
  ignoreInlineAllow?: boolean;
  cacheDir: string;
  gitleaksBin?: string;
}

/** Findings in the pushed history, each named `.git@<commit>:<file>` (or `...:commit message`). */
export async function scanHistory(gitDir: string, commit: string, opts: HistoryScanOptions): Promise<Finding[]> {
  const bin = opts.gitleaksBin ?? "gitleaks";
  const version = await gitleaksVersion(bin, opts.cacheDir);
  const rules = fs.readFileSync(opts.rulesPath, "utf8");
  const key = createHash("sha256").update([rules, version, String(opts.ignoreInlineAllow === true)].join("\0")).digest("hex").slice(0, 16);
  const cacheFile = path.join(opts.cacheDir, "scans", `history-${commit}-${key}.json`);
  if (fs.existsSync(cacheFile)) return JSON.parse(fs.readFileSync(cacheFile, "utf8")) as Finding[];

  const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-history-"));
  try {
    const findings = [...(await scanChanges(bin, gitDir, opts, work)), ...(await scanMessages(gitDir, opts, work))];
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    fs.writeFileSync(`${cacheFile}.tmp`, JSON.stringify(findings));
    fs.renameSync(`${cacheFile}.tmp`, cacheFile);
    pruneHistoryCache(path.dirname(cacheFile));
    return findings;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function scanChanges(bin: string, gitDir: string, opts: HistoryScanOptions, work: string): Promise<Finding[]> {
  const report = path.join(work, "history.json");
  const r = await runProgram(bin, gitleaksArgs(opts.rulesPath, report, { gitDir, ignoreInlineAllow: opts.ignoreInlineAllow }), { cwd: opts.ignoreDir, timeoutMs: 1_800_000 });
  if (r.exitCode !== 0 && r.exitCode !== LEAKS_EXIT_CODE) {
    throw new RepoSyncError("scan", `gitleaks failed scanning the history to push (${gitDir})`, {
      command: r.command,
      exitCode: r.exitCode,
      stderr: r.timedOut ? "timed out" : r.stderr,
      hint: "run the command above by hand to see more, or set repository.exclude_dot_git: true",
    });
  }
  const raw = fs.existsSync(report) ? fs.readFileSync(report, "utf8") : "[]";
  const commits = commitsOf(raw);
  return parseGitleaksReport(raw, gitDir).map((f, n) => ({ ...f, file: `.git@${commits[n].slice(0, 12)}:${f.file}` }));
}

/** The Commit field of each report entry, in order (read apart: Finding carries no commit). */
function commitsOf(json: string): string[] {
  const data: unknown = JSON.parse(json.trim() || "[]");
  return Array.isArray(data) ? data.map((e: unknown) => String((e as Record<string, unknown> | null)?.Commit ?? "")) : [];
}

/** History verdicts kept (one per pushed commit and rule set): the newest, like the exports. */
export const KEEP_HISTORY_VERDICTS = 16;

/** Removes all but the newest {@link KEEP_HISTORY_VERDICTS} history verdicts, so the cache cannot grow without bound. */
function pruneHistoryCache(dir: string): void {
  const files = fs
    .readdirSync(dir)
    .filter((n) => /^history-[0-9a-f]{40}-[0-9a-f]{16}\.json$/.test(n))
    .map((n) => ({ p: path.join(dir, n), t: fs.statSync(path.join(dir, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const f of files.slice(KEEP_HISTORY_VERDICTS)) fs.rmSync(f.p, { force: true });
}

/** Commit messages travel in the pushed `.git` too: one file per commit, scanned as a folder. */
async function scanMessages(gitDir: string, opts: HistoryScanOptions, work: string): Promise<Finding[]> {
  const r = await runProgram("git", [`--git-dir=${gitDir}`, "log", "--all", "-z", "--format=%H%n%B"], { timeoutMs: 600_000 });
  if (r.exitCode !== 0) {
    throw new RepoSyncError("scan", `git log failed reading the commit messages to push (${gitDir})`, { command: r.command, exitCode: r.exitCode, stderr: r.stderr });
  }
  const dir = path.join(work, "messages");
  fs.mkdirSync(dir);
  for (const entry of r.stdout.split("\0")) {
    const nl = entry.indexOf("\n");
    if (nl < 0) continue;
    fs.writeFileSync(path.join(dir, entry.slice(0, nl)), entry.slice(nl + 1));
  }
  const scan = await scanRepository(dir, { configPath: opts.rulesPath, cacheDir: opts.cacheDir, gitleaksBin: opts.gitleaksBin, ignoreInlineAllow: opts.ignoreInlineAllow });
  return scan.findings.map((f) => ({ ...f, file: `.git@${f.file.slice(0, 12)}:commit message` }));
}
