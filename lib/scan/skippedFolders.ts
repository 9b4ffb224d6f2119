/**
 * Folders gitleaks' directory walk skips whole because the folder's own path matches a global path
 * allowlist. gitleaks (v8.30.1, sources/files.go) tests every folder against the same patterns as
 * files, and its default allowlist holds file-name patterns such as `(?i)\.(?:png|jpe?g|...)$` or
 * `go\.mod$`: a folder named `assets.png` is skipped with every text file in it, although no file in
 * it has a path that matches. The gate must judge a file by its own path, so repo-sync scans such
 * folders again: `gitleaks dir ./assets.png/` (a trailing slash: the walk's root is then not matched,
 * and every file below still has its full path tested, and reported, as in a scan of the whole tree).
 *
 * Which folders gitleaks skips is asked of gitleaks itself, on a skeleton of the tree (its folders
 * only, no file content), at debug level, where the walk names each folder it skips. No regular
 * expression is evaluated here (gitleaks' are Go's RE2, with Go's flags). The answer depends on the
 * folder's path, the rules and gitleaks alone, so it is kept per rule set (scanRepository.ts): a
 * tree whose folders are all known asks nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { displayPath, fsPath, treePath } from "../source/treeListing";
import { runProgram } from "../process/run";

/** What gitleaks (debug level) prints for a folder its walk skips: `... path=<value>`. */
const SKIP_LINE = / DBG skipping directory: global allowlist path=(.*)$/;

/**
 * Reads the folders a debug-level `gitleaks dir` skipped from its stderr (pure). A value is written
 * bare, or Go-quoted (`strconv.Quote`) when it holds a blank, a quote, a backslash or a byte outside
 * printable ASCII. A line that cannot be read is an error: the gate must not guess.
 */
export function parseSkippedFolders(stderr: string): string[] {
  const out: string[] = [];
  for (const raw of stderr.split("\n")) {
    const line = raw.replace(/\x1b\[[0-9;]*m/g, "").trimEnd();
    const m = SKIP_LINE.exec(line);
    if (!m) continue;
    const value = m[1].startsWith('"') ? goUnquote(m[1]) : m[1];
    if (value === undefined || value === "") throw new Error(`cannot read a folder name in gitleaks' output: ${JSON.stringify(line)}`);
    out.push(value);
  }
  return out;
}

const GO_ESCAPES: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"' };

/**
 * Decodes a Go double-quoted string literal (what strconv.Quote writes) into a byte string (one char
 * per byte, as tree paths are kept: see source/treeListing.ts), or undefined.
 */
export function goUnquote(s: string): string | undefined {
  if (s.length < 2 || !s.startsWith('"') || !s.endsWith('"')) return undefined;
  let out = "";
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) out += Buffer.from(bytes.splice(0)).toString("latin1");
  };
  for (let i = 1; i < s.length - 1; i++) {
    const c = s[i];
    if (c === '"') return undefined;
    if (c !== "\\") {
      flush();
      out += treePath(c);
      continue;
    }
    const e = s[++i];
    const hex = (n: number) => {
      const h = s.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) return undefined;
      i += n;
      return parseInt(h, 16);
    };
    if (e === "x") {
      const b = hex(2);
      if (b === undefined) return undefined;
      bytes.push(b);
      continue;
    }
    flush();
    if (e === "u" || e === "U") {
      const cp = hex(e === "u" ? 4 : 8);
      if (cp === undefined || cp > 0x10ffff) return undefined;
      out += treePath(String.fromCodePoint(cp));
    } else if (e in GO_ESCAPES) out += GO_ESCAPES[e];
    else return undefined;
  }
  flush();
  return out;
}

/**
 * Relative paths of the folders under `root` (symlinks not followed, as gitleaks does not follow
 * them). Folders named `.git` are left out: repo-sync never pushes one from a tree (rsync excludes
 * them, and a commit cannot hold one), and gitleaks skips them too.
 */
export function listFolders(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(rel ? fsPath(root, rel) : root, { withFileTypes: true, encoding: "buffer" })) {
      const name = d.name.toString("latin1");
      if (!d.isDirectory() || name === ".git") continue;
      const p = rel ? `${rel}/${name}` : name;
      out.push(p);
      walk(p);
    }
  };
  walk("");
  return out;
}

/**
 * What gitleaks' walk does with a folder, by its path alone (so it can be kept per rule set):
 * `walk` it; `rescue`: skip it although the paths below may not match (scanned again by repo-sync);
 * `skip`: skip it, and every path below matches the same pattern (gitleaks judges those files so).
 */
export type FolderVerdict = "walk" | "rescue" | "skip";

/** Options of {@link skippedFolders}. */
export interface SkippedFoldersOptions {
  /** gitleaks binary. */
  bin: string;
  /** An empty private folder to build the skeleton in. */
  work: string;
  /** Where gitleaks may write its (empty) report. */
  reportPath: string;
  timeoutMs: number;
  /** Verdicts known under these rules and this gitleaks (`.` included); this call adds the ones it learns. */
  verdicts?: Map<string, FolderVerdict>;
}

/**
 * The folders of `root` that a `gitleaks dir .` with `rulesPath` skips whole although the files below
 * do not match, nested ones included: each is a folder to scan again with {@link rescueTarget}.
 * Asking gitleaks costs one start on a skeleton of the folders without a verdict yet (none: no start
 * at all), beside the real scan. A path allowlist that matches the top folder itself (`^\.`, meant
 * for dotfiles) would make gitleaks scan nothing: refused.
 */
export async function skippedFolders(root: string, rulesPath: string, opts: SkippedFoldersOptions): Promise<string[]> {
  const verdicts = opts.verdicts ?? new Map<string, FolderVerdict>();
  const folders = listFolders(root);
  const inSkipped = (f: string) => {
    for (let up = f.lastIndexOf("/"); up > 0; up = f.lastIndexOf("/", up - 1)) if (verdicts.get(f.slice(0, up)) === "skip") return true;
    return false;
  };
  const unknown = folders.filter((f) => !verdicts.has(f) && !inSkipped(f));
  if (unknown.length > 0 || !verdicts.has(".")) await askGitleaks(root, rulesPath, unknown, new Set(folders), verdicts, opts);
  return folders.filter((f) => verdicts.get(f) === "rescue" && !inSkipped(f));
}

/** Runs the walks over a skeleton of `unknown` and records what gitleaks did with each folder. */
async function askGitleaks(root: string, rulesPath: string, unknown: string[], known: Set<string>, verdicts: Map<string, FolderVerdict>, opts: SkippedFoldersOptions): Promise<void> {
  for (const f of unknown) fs.mkdirSync(fsPath(opts.work, f), { recursive: true });
  const learned = new Map<string, FolderVerdict>();
  let round = ["."];
  while (round.length > 0) {
    const next: string[] = [];
    for (const target of round) {
      const args = ["dir", rescueTarget(target), "--config", rulesPath, "--no-banner", "--no-color", "--log-level", "debug", "--report-format", "json", "--report-path", opts.reportPath];
      const r = await runProgram(opts.bin, args, { cwd: opts.work, timeoutMs: opts.timeoutMs });
      if (r.exitCode !== 0) {
        throw new RepoSyncError("scan", `gitleaks failed listing the folders it skips in ${root}`, {
          command: r.command,
          exitCode: r.exitCode,
          stderr: r.timedOut ? "timed out" : r.stderr.split("\n").filter((l) => !l.includes(" DBG ")).join("\n"),
          hint: "check the rules file; run the command above by hand to see more",
        });
      }
      let skipped: string[];
      try {
        skipped = parseSkippedFolders(r.stderr).map((p) => p.replace(/^\.\//, "").replace(/\/+$/, ""));
      } catch (err) {
        throw new RepoSyncError("scan", `gitleaks skipped a folder of ${root} whose name repo-sync cannot read back`, { hint: "rename the folder (plain UTF-8 names)", cause: err });
      }
      for (const p of skipped) {
        if (target !== "." && p === target) {
          // The folder matched again with its slash (an unanchored pattern: `gitleaks\.toml`,
          // `(?:^|/)node_modules(?:/.*)?$`): every path below matches it too, so gitleaks judges each
          // file by its own path and skips it. Nothing to scan again.
          learned.set(p, "skip");
          continue;
        }
        if (p === "." || p === "") {
          throw new RepoSyncError("scan", `a path allowlist of the gitleaks rules (${rulesPath}) matches the top folder "." itself, so gitleaks would scan no file of ${root}`, {
            hint: "write the pattern so that it cannot match \".\" alone (for top-level dotfiles: ^\\.[^/]+$ instead of ^\\.)",
          });
        }
        if (!known.has(p)) throw new RepoSyncError("scan", `gitleaks skipped a folder ${JSON.stringify(p)} that repo-sync cannot find in ${root}`, { hint: "rename the folder (plain UTF-8 names)" });
        if (learned.has(p)) continue;
        learned.set(p, "rescue");
        next.push(p);
      }
    }
    round = next;
  }
  // Every other folder the walks visited was judged by its own path and walked.
  verdicts.set(".", "walk");
  const underSkip = (f: string) => [...learned].some(([w, v]) => v === "skip" && f.startsWith(`${w}/`));
  for (const [f, v] of learned) verdicts.set(f, v);
  for (const f of unknown) if (!learned.has(f) && !underSkip(f)) verdicts.set(f, "walk");
}

/** Verdicts kept per rule set; past this the record starts again from one tree's. */
const MAX_VERDICTS = 100_000;

/** Reads a record of folder verdicts (a JSON object, path to verdict); missing or damaged: empty. */
export function readFolderVerdicts(file: string): Map<string, FolderVerdict> {
  try {
    const data: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    if (data === null || typeof data !== "object" || Array.isArray(data)) return new Map();
    return new Map(Object.entries(data).filter((e): e is [string, FolderVerdict] => e[1] === "walk" || e[1] === "rescue" || e[1] === "skip"));
  } catch {
    return new Map();
  }
}

/** Writes the record atomically; bounded in size, and in number of rule sets (the newest 8 files). */
export function writeFolderVerdicts(file: string, verdicts: Map<string, FolderVerdict>, current: string[]): void {
  const kept = verdicts.size > MAX_VERDICTS ? new Map([".", ...current].filter((f) => verdicts.has(f)).map((f) => [f, verdicts.get(f) as FolderVerdict])) : verdicts;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(kept)));
  fs.renameSync(tmp, file);
  const dir = path.dirname(file);
  const files = fs
    .readdirSync(dir)
    .filter((n) => /^folders-[0-9a-f]{16}\.json$/.test(n))
    .map((n) => ({ p: path.join(dir, n), t: fs.statSync(path.join(dir, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const f of files.slice(8)) fs.rmSync(f.p, { force: true });
}

/**
 * The `gitleaks dir` argument that walks `folder` without testing the folder itself against the
 * allowlists: `./` first (a name may start with `-`), a slash last (the walk's root keeps it, so a
 * pattern ending in `$` cannot match), while the files below are reported as `folder/...`.
 */
export function rescueTarget(folder: string): string {
  if (folder === ".") return ".";
  // An argument is passed as UTF-8 text: a folder name that is not UTF-8 cannot be named to gitleaks.
  const text = displayPath(folder);
  if (treePath(text) !== folder) throw new RepoSyncError("scan", `gitleaks skips the folder ${JSON.stringify(text)} because of its name, and repo-sync cannot name it to gitleaks again (its name is not UTF-8); nothing was pushed`, { hint: "rename the folder (plain UTF-8 names)" });
  return `./${text}/`;
}
