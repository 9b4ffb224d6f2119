/**
 * The secret gate for a pushed `.git` (exclude_dot_git: false): every file content any commit of it
 * brings, and every commit message. It runs over the `.git` built by source/exportHistory.ts, which
 * holds exactly what is pushed. The contents are not read through `git log -p` (which skips what git
 * thinks binary, follows the user's diff attributes, and shows no merge's own changes): every (path,
 * blob) a commit adds or changes against any parent, merges included, symlink targets as text, is
 * written out as a file under its path and scanned by `gitleaks dir`, as the tree is.
 * A verdict is kept per commit, rules, gitleaks version and `.gitleaksignore`; a new commit whose
 * ancestor was found clean under the same ones is scanned from there (`A..C`: the commits and
 * messages it adds), so a deploy pays for its own commits, not for the whole history again.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { parseBatchHeader, writeTreeEntries } from "../source/blobWriter";
import { runGit } from "../source/runGit";
import { displayPath, isCheckoutSafePath, treePath, type TreePath } from "../source/treeListing";
import type { Finding } from "./gitleaksReport";
import { gitleaksVersion, readIgnoreFile, readRules, scanIdentity, scanRepository } from "./scanRepository";

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
  // The scheme is part of the key: a verdict `gitleaks git` gave (binary files unread) is not reused.
  const key = createHash("sha256").update(`${HISTORY_SCHEME}\0${scanIdentity(rules, version, opts.ignoreInlineAllow === true, readIgnoreFile(opts.ignoreDir))}`).digest("hex").slice(0, 16);
  const dir = path.join(opts.cacheDir, "scans");
  const verdictFile = (c: string) => path.join(dir, `history-${c}-${key}.json`);
  if (fs.existsSync(verdictFile(commit))) return { findings: JSON.parse(fs.readFileSync(verdictFile(commit), "utf8")) as Finding[], cached: true };

  const base = await cleanAncestor(gitDir, commit, dir, key);
  const range = base ? `${base}..${commit}` : undefined;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-history-"));
  try {
    const findings = [...(await scanHistoryBlobs(gitDir, opts, work, range)), ...(await scanMessages(gitDir, opts, work, range))];
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
    const r = await runGit(path.dirname(gitDir), [`--git-dir=${gitDir}`, "merge-base", "--is-ancestor", c.commit, commit], { timeoutMs: 60_000 });
    if (r.exitCode === 0) return c.commit;
  }
  return undefined;
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

/** What a history verdict was computed by (changed when the way history is read changes). */
const HISTORY_SCHEME = "history-blobs-v2";
/** The name a history's own `.gitleaksignore` is scanned under (no file of a tree can have it: `.git` is refused). */
const IGNORE_FILE_STANDIN = ".git-history-gitleaksignore";

/** One (path, blob) a commit of the pushed history brings. */
export interface HistoryBlob {
  commit: string;
  mode: string;
  hash: string;
  path: TreePath;
}

/**
 * Reads `git diff-tree --stdin -r -m --root --raw -z` output (pure): a commit id opens each commit's
 * (or each merge parent's) entries; the blobs added, changed or retyped to a file or symlink are kept
 * (deletions and submodule pointers carry no content).
 */
export function parseHistoryDiff(z: string): HistoryBlob[] {
  const out: HistoryBlob[] = [];
  const parts = z.split("\0");
  let commit = "";
  for (let i = 0; i < parts.length; i++) {
    if (/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(parts[i])) {
      commit = parts[i];
      continue;
    }
    const m = /^:\d{6} (\d{6}) [0-9a-f]+ ([0-9a-f]+) ([A-Z])\d*$/.exec(parts[i]);
    if (!m || i + 1 >= parts.length) continue;
    const path = parts[++i];
    if (m[3] !== "D" && /^(100644|100755|120000)$/.test(m[1])) out.push({ commit, mode: m[1], hash: m[2], path });
  }
  return out;
}

/**
 * Splits blobs into rounds that can each be written as one folder (pure): a path at most once per
 * round, and never a file where another entry of the round needs a folder (`conf` and `conf/app.env`).
 * A (path, blob) seen before is left out.
 */
export function historyRounds(blobs: HistoryBlob[]): Array<Map<TreePath, HistoryBlob>> {
  const rounds: Array<{ files: Map<TreePath, HistoryBlob>; dirs: Set<TreePath> }> = [];
  const seen = new Set<string>();
  for (const b of blobs) {
    if (seen.has(`${b.hash}\0${b.path}`)) continue;
    seen.add(`${b.hash}\0${b.path}`);
    const parents: TreePath[] = [];
    for (let i = b.path.indexOf("/"); i > 0; i = b.path.indexOf("/", i + 1)) parents.push(b.path.slice(0, i));
    let round = rounds.find((r) => !r.files.has(b.path) && !r.dirs.has(b.path) && parents.every((p) => !r.files.has(p)));
    if (!round) rounds.push((round = { files: new Map(), dirs: new Set() }));
    round.files.set(b.path, b);
    for (const p of parents) round.dirs.add(p);
  }
  return rounds.map((r) => r.files);
}

/**
 * Every content the history to push brings (the range's commits, or all of them), scanned as files.
 * A path git would refuse to check out anywhere in that history refuses the whole history: nothing
 * of it is written.
 */
async function scanHistoryBlobs(gitDir: string, opts: HistoryScanOptions, work: string, range: string | undefined): Promise<Finding[]> {
  const git = (args: string[], input?: string) => runGit(path.dirname(gitDir), [`--git-dir=${gitDir}`, ...args], input === undefined ? {} : { input });
  const revs = await git(["rev-list", ...(range ? [range] : ["--all"])]);
  if (revs.exitCode !== 0) throw new RepoSyncError("scan", `git rev-list failed reading the history to push (${gitDir})`, { command: revs.command, exitCode: revs.exitCode, stderr: revs.stderr });
  if (revs.stdout.trim() === "") return [];
  const diff = await git(["diff-tree", "--stdin", "-r", "-m", "--root", "--raw", "-z", "--no-abbrev", "--no-renames"], revs.stdout);
  if (diff.exitCode !== 0) throw new RepoSyncError("scan", `git diff-tree failed reading the history to push (${gitDir})`, { command: diff.command.slice(0, 6), exitCode: diff.exitCode, stderr: diff.stderr });
  const blobs = parseHistoryDiff(diff.stdoutBytes.toString("latin1"));
  const unsafe = blobs.find((b) => !isCheckoutSafePath(b.path));
  if (unsafe) {
    throw new RepoSyncError("source", `commit ${unsafe.commit.slice(0, 12)} in the history to push holds the path ${JSON.stringify(displayPath(unsafe.path))}, which git itself refuses to check out; nothing was written, scanned or pushed`, {
      hint: "the history holds a crafted commit: push without it (repository.exclude_dot_git: true), or rewrite the history",
    });
  }
  const ignore = readIgnoreFile(opts.ignoreDir);
  const ignored = new Set((ignore ?? "").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")));
  const findings: Finding[] = [];
  // A `.gitleaksignore` of the history is content to scan, never the ignore file of the scan: it is
  // scanned under another name (the one in force is the tree's).
  const asScanned = (p: TreePath) => (p === ".gitleaksignore" ? IGNORE_FILE_STANDIN : p);
  for (const [n, round] of historyRounds(blobs).entries()) {
    const dir = path.join(work, `blobs-${n}`);
    fs.mkdirSync(dir);
    // Symlink targets are written as files: a target can be a secret too.
    await writeTreeEntries(path.dirname(gitDir), dir, [...round.values()].map((b) => ({ mode: "100644", hash: b.hash, path: asScanned(b.path) })), gitDir);
    if (ignore !== undefined) fs.writeFileSync(path.join(dir, ".gitleaksignore"), ignore);
    const scan = await scanRepository(dir, { configPath: opts.rulesPath, cacheDir: opts.cacheDir, gitleaksBin: opts.gitleaksBin, ignoreInlineAllow: opts.ignoreInlineAllow });
    for (const f of scan.findings) {
      const real = f.file === IGNORE_FILE_STANDIN ? ".gitleaksignore" : f.file;
      const at = round.get(treePath(real));
      const commit = at?.commit ?? "";
      // A history finding is ignored by the tree's fingerprint line, or by gitleaks' own `commit:file:rule:line`.
      if (ignored.has(`${commit}:${f.fingerprint}`)) continue;
      findings.push({ ...f, file: `.git@${commit.slice(0, 12)}:${real}` });
    }
  }
  return findings;
}

/**
 * Commit objects travel in the pushed `.git` too: each commit's whole object (author and committer
 * names, every header, the message) is written to a file named by its hash and scanned as a folder.
 */
async function scanMessages(gitDir: string, opts: HistoryScanOptions, work: string, range: string | undefined): Promise<Finding[]> {
  const git = (args: string[], input?: string) => runGit(path.dirname(gitDir), [`--git-dir=${gitDir}`, ...args], input === undefined ? {} : { input });
  const revs = await git(["rev-list", ...(range ? [range] : ["--all"])]);
  const objects = revs.exitCode === 0 ? await git(["cat-file", "--batch"], revs.stdout) : revs;
  if (objects.exitCode !== 0) {
    throw new RepoSyncError("scan", `git failed reading the commits to push (${gitDir})`, { command: objects.command, exitCode: objects.exitCode, stderr: objects.stderr });
  }
  const dir = path.join(work, "messages");
  fs.mkdirSync(dir);
  for (const c of parseBatchObjects(objects.stdoutBytes)) fs.writeFileSync(path.join(dir, c.hash), c.content);
  // The tree's ignore file applies here too: a line `<commit>:rule:line` accepts a commit's finding.
  const ignore = readIgnoreFile(opts.ignoreDir);
  if (ignore !== undefined) fs.writeFileSync(path.join(dir, ".gitleaksignore"), ignore);
  const scan = await scanRepository(dir, { configPath: opts.rulesPath, cacheDir: opts.cacheDir, gitleaksBin: opts.gitleaksBin, ignoreInlineAllow: opts.ignoreInlineAllow });
  return scan.findings.map((f) => ({ ...f, file: `.git@${f.file.slice(0, 12)}:commit message` }));
}

/** Splits `git cat-file --batch` output into objects (pure). */
export function parseBatchObjects(out: Buffer): Array<{ hash: string; type: string; content: Buffer }> {
  const objects: Array<{ hash: string; type: string; content: Buffer }> = [];
  for (let at = 0; at < out.length; ) {
    const nl = out.indexOf(10, at);
    if (nl < 0) break;
    const h = parseBatchHeader(out.subarray(at, nl).toString("latin1"));
    if (!h) throw new RepoSyncError("scan", `git cat-file answered ${JSON.stringify(out.subarray(at, nl).toString("latin1").slice(0, 100))}`);
    objects.push({ hash: h.hash, type: h.type, content: out.subarray(nl + 1, nl + 1 + h.size) });
    at = nl + 1 + h.size + 1;
  }
  return objects;
}
