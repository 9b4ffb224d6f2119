/**
 * The secret gate for a pushed `.git` (exclude_dot_git: false): every commit's changes (gitleaks
 * `git`, which reads `git log -p` of every ref) and every commit message (which `gitleaks git` does not
 * read). It runs over the `.git` built by source/exportHistory.ts, which holds exactly what is pushed.
 * A verdict is kept per commit, rules, gitleaks version and `.gitleaksignore`; a new commit whose
 * ancestor was found clean under the same ones is scanned from there (`A..C`: the commits and
 * messages it adds), so a deploy pays for its own commits, not for the whole history again.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { runProgram } from "../process/run";
import { writeTreeEntries } from "../source/blobWriter";
import { runGit } from "../source/runGit";
import { treePath } from "../source/treeListing";
import { Finding, parseGitleaksReport } from "./gitleaksReport";
import { gitleaksArgs, gitleaksVersion, LEAKS_EXIT_CODE, readIgnoreFile, readRules, scanIdentity, scanRepository } from "./scanRepository";

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

/** What the history scan found, and over which commits. */
export interface HistoryScanResult {
  findings: Finding[];
  /** `A..C` when only the commits after a clean ancestor A were read; undefined: all of them (or cached). */
  range?: string;
  cached: boolean;
}

/** Findings in the pushed history, each named `.git@<commit>:<file>` (or `...:commit message`). */
export async function scanHistory(gitDir: string, commit: string, opts: HistoryScanOptions): Promise<HistoryScanResult> {
  const bin = opts.gitleaksBin ?? "gitleaks";
  const version = await gitleaksVersion(bin, opts.cacheDir);
  const rules = readRules(opts.rulesPath, opts.cacheDir).rulesText;
  const key = scanIdentity(rules, version, opts.ignoreInlineAllow === true, readIgnoreFile(opts.ignoreDir));
  const dir = path.join(opts.cacheDir, "scans");
  const verdictFile = (c: string) => path.join(dir, `history-${c}-${key}.json`);
  if (fs.existsSync(verdictFile(commit))) return { findings: JSON.parse(fs.readFileSync(verdictFile(commit), "utf8")) as Finding[], cached: true };

  const base = await cleanAncestor(gitDir, commit, dir, key);
  const range = base ? `${base}..${commit}` : undefined;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-history-"));
  try {
    const findings = [...(await scanChanges(bin, gitDir, opts, work, range)), ...(await scanUnseenBlobs(gitDir, opts, work, range)), ...(await scanMessages(gitDir, opts, work, range))];
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(`${verdictFile(commit)}.tmp`, JSON.stringify(findings));
    fs.renameSync(`${verdictFile(commit)}.tmp`, verdictFile(commit));
    pruneHistoryCache(dir);
    return { findings, range, cached: false };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Candidates looked at for a clean ancestor (the most recently scanned first). */
const ANCESTOR_CANDIDATES = 4;

/**
 * The most recently scanned commit that was found clean under `key` and is an ancestor of `commit`
 * (so its history is a prefix of the one to push), or undefined.
 */
async function cleanAncestor(gitDir: string, commit: string, dir: string, key: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const pattern = new RegExp(`^history-([0-9a-f]{40})-${key}\\.json$`);
  const clean = names
    .map((n) => ({ m: pattern.exec(n), p: path.join(dir, n) }))
    .filter((c): c is { m: RegExpExecArray; p: string } => c.m !== null && c.m[1] !== commit)
    .map((c) => ({ commit: c.m[1], p: c.p, t: fs.statSync(c.p).mtimeMs }))
    .sort((a, b) => b.t - a.t)
    .filter((c) => fs.readFileSync(c.p, "utf8").trim() === "[]")
    .slice(0, ANCESTOR_CANDIDATES);
  for (const c of clean) {
    const r = await runProgram("git", [`--git-dir=${gitDir}`, "merge-base", "--is-ancestor", c.commit, commit], { timeoutMs: 60_000 });
    if (r.exitCode === 0) return c.commit;
  }
  return undefined;
}

async function scanChanges(bin: string, gitDir: string, opts: HistoryScanOptions, work: string, range: string | undefined): Promise<Finding[]> {
  const report = path.join(work, "history.json");
  const r = await runProgram(bin, gitleaksArgs(opts.rulesPath, report, { gitDir, range, ignoreInlineAllow: opts.ignoreInlineAllow }), { cwd: opts.ignoreDir, timeoutMs: 1_800_000 });
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

/**
 * Content `gitleaks git` does not read (it follows `git log -p`): what a merge commit itself brings (an
 * "evil" merge, a conflict resolution: `git diff-tree --cc` lists the paths that differ from every
 * parent), and files that replaced a symlink or a submodule (type changes). Their blobs are written
 * under their paths, one folder per round of repeated paths, and scanned as files.
 */
async function scanUnseenBlobs(gitDir: string, opts: HistoryScanOptions, work: string, range: string | undefined): Promise<Finding[]> {
  const git = (args: string[]) => runGit(path.dirname(gitDir), [`--git-dir=${gitDir}`, ...args]);
  const revs = async (args: string[]) => {
    const r = await git(["rev-list", ...args, ...(range ? [range] : ["--all"])]);
    if (r.exitCode !== 0) throw new RepoSyncError("scan", `git rev-list failed reading the history to push (${gitDir})`, { command: r.command, exitCode: r.exitCode, stderr: r.stderr });
    return r.stdout.split("\n").filter((l) => /^[0-9a-f]{40,64}$/.test(l));
  };
  const found: Array<{ commit: string; path: string; blob: string }> = [];
  for (const [commits, diffArgs] of [
    [await revs(["--merges"]), ["--cc"]],
    [await typeChanged(git, range), ["--diff-filter=T", "--no-renames"]],
  ] as const) {
    for (const c of commits) {
      const r = await git(["diff-tree", "-r", "--raw", "-z", "--no-abbrev", ...diffArgs, c]);
      if (r.exitCode !== 0) throw new RepoSyncError("scan", `git diff-tree failed reading ${c.slice(0, 12)} of the history to push`, { command: r.command, exitCode: r.exitCode, stderr: r.stderr });
      for (const e of parseRawEntries(r.stdoutBytes.toString("latin1"))) if (/^100[67]55$|^100644$/.test(e.mode)) found.push({ commit: c, path: e.path, blob: e.hash });
    }
  }
  const findings: Finding[] = [];
  const rounds: Array<Map<string, { commit: string; blob: string }>> = [];
  for (const f of found) {
    let round = rounds.find((m) => !m.has(f.path) || m.get(f.path)?.blob === f.blob);
    if (!round) rounds.push((round = new Map()));
    if (!round.has(f.path)) round.set(f.path, { commit: f.commit, blob: f.blob });
  }
  for (const [n, round] of rounds.entries()) {
    const dir = path.join(work, `unseen-${n}`);
    fs.mkdirSync(dir);
    await writeTreeEntries(path.dirname(gitDir), dir, [...round].map(([p, v]) => ({ mode: "100644", hash: v.blob, path: p })), gitDir);
    const scan = await scanRepository(dir, { configPath: opts.rulesPath, cacheDir: opts.cacheDir, gitleaksBin: opts.gitleaksBin, ignoreInlineAllow: opts.ignoreInlineAllow });
    for (const f of scan.findings) {
      const at = round.get(treePath(f.file));
      findings.push({ ...f, file: `.git@${(at?.commit ?? "").slice(0, 12)}:${f.file}` });
    }
  }
  return findings;
}

/** Commits of the range whose diff holds a type change (symlink or submodule turned file, or back). */
async function typeChanged(git: (args: string[]) => Promise<{ exitCode: number; stdout: string }>, range: string | undefined): Promise<string[]> {
  const r = await git(["log", "--format=%H", "--no-renames", "--diff-filter=T", ...(range ? [range] : ["--all"])]);
  return r.exitCode === 0 ? r.stdout.split("\n").filter((l) => /^[0-9a-f]{40,64}$/.test(l)) : [];
}

/**
 * Entries of `git diff-tree --raw -z` (plain or `--cc`), decoded one char per byte (pure): the mode and
 * blob the commit holds for each path (the last mode and hash of a combined line).
 */
export function parseRawEntries(z: string): Array<{ mode: string; hash: string; path: string }> {
  const out: Array<{ mode: string; hash: string; path: string }> = [];
  const parts = z.split("\0");
  for (let i = 0; i < parts.length; i++) {
    const m = /^:+((?:\d{6} )+)((?:[0-9a-f]{40,64} )+)[A-Z]+\d*$/.exec(parts[i]);
    if (!m || i + 1 >= parts.length) continue;
    const modes = m[1].trim().split(" ");
    const hashes = m[2].trim().split(" ");
    out.push({ mode: modes[modes.length - 1], hash: hashes[hashes.length - 1], path: parts[i + 1] });
    i++;
  }
  return out;
}

/** Commit messages travel in the pushed `.git` too: one file per commit, scanned as a folder. */
async function scanMessages(gitDir: string, opts: HistoryScanOptions, work: string, range: string | undefined): Promise<Finding[]> {
  const r = await runProgram("git", [`--git-dir=${gitDir}`, "log", "-z", "--format=%H%n%B", ...(range ? [range] : ["--all"])], { timeoutMs: 600_000 });
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
