/**
 * The regular files of a checkout as it is (worktree source mode: tracked, modified and untracked
 * files alike, `.git` folders left out), each with its git blob hash of the raw bytes. Hashing is the
 * costly part, so a stat cache (size, mtime, inode) keeps each file's hash until the file changes:
 * a run over an unchanged checkout hashes nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { runProgram } from "../process/run";
import type { TreeEntry } from "../scan/cleanRecord";

/** A file changed this recently may change again within the same mtime tick: never trusted from cache. */
const RACY_MS = 2_000;

interface StatRow {
  size: number;
  mtimeMs: number;
  ino: number;
  id: string;
}

/** Lists the checkout's regular files with their blob hashes; `cacheFile` holds the stat cache. */
export async function worktreeEntries(root: string, cacheFile: string): Promise<TreeEntry[]> {
  const cache = readStatCache(cacheFile);
  const next = new Map<string, StatRow>();
  const stale: Array<{ rel: string; st: fs.Stats }> = [];
  const now = Date.now();
  for (const rel of walk(root)) {
    const st = fs.lstatSync(path.join(root, rel));
    const known = cache.get(rel);
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs && known.ino === st.ino && now - st.mtimeMs > RACY_MS) next.set(rel, known);
    else stale.push({ rel, st });
  }
  if (stale.length > 0) {
    const ids = await hashFiles(root, stale.map((s) => s.rel));
    stale.forEach((s, i) => next.set(s.rel, { size: s.st.size, mtimeMs: s.st.mtimeMs, ino: s.st.ino, id: ids[i] }));
  }
  writeStatCache(cacheFile, next);
  return [...next].map(([rel, row]) => ({ path: rel, id: row.id }));
}

/** Relative paths of the regular files under `root`, `.git` folders and symlinks left out. */
function* walk(root: string, rel = ""): Generator<string> {
  for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) {
      if (d.name !== ".git") yield* walk(root, p);
    } else if (d.isFile()) {
      yield p;
    }
  }
}

/** git blob hashes of the raw bytes (no clean filters: gitleaks reads the raw bytes too). */
async function hashFiles(root: string, rels: string[]): Promise<string[]> {
  const r = await runProgram("git", ["hash-object", "--no-filters", "--stdin-paths"], { cwd: root, input: rels.map((p) => path.join(root, p)).join("\n") + "\n", timeoutMs: 600_000 });
  const ids = r.stdout.split("\n").filter((l) => l !== "");
  if (r.exitCode !== 0 || ids.length !== rels.length) {
    throw new RepoSyncError("source", `git hash-object failed hashing ${rels.length} files of ${root}`, { command: r.command.slice(0, 4), exitCode: r.exitCode, stderr: r.stderr });
  }
  return ids;
}

function readStatCache(file: string): Map<string, StatRow> {
  try {
    return new Map(Object.entries(JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, StatRow>));
  } catch {
    return new Map();
  }
}

function writeStatCache(file: string, rows: Map<string, StatRow>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(rows)));
  fs.renameSync(tmp, file);
}
