/**
 * Exports exactly the tree of one commit into a cached folder: what is pushed is that tree, not
 * whatever else lies in the checkout (untracked `.env`, build output). Each commit is exported once.
 *
 * File times are derived from each blob's hash, so that two exports of the same content carry the same
 * mtime: rsync's quick check (size + mtime) then skips unchanged files across commits, and a file that
 * changed gets a different mtime even when its size did not.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { runProgram } from "../process/run";

/** mtime base (2001-01-01) and span (about 20 years) for blob-derived file times. */
const MTIME_BASE_S = 978_307_200;
const MTIME_SPAN_S = 20 * 365 * 86_400;
/** Exports kept per repository (trees and history folders together). */
const KEEP_EXPORTS = 8;

/** The deterministic mtime (seconds) for a blob. */
export function blobMtime(blobHash: string): number {
  return MTIME_BASE_S + (parseInt(blobHash.slice(0, 8), 16) % MTIME_SPAN_S);
}

/** Parses `git ls-tree -r -z` output into [mode, type, hash, path] rows (pure). */
export function parseLsTree(z: string): Array<{ mode: string; type: string; hash: string; path: string }> {
  return z
    .split("\0")
    .filter((rec) => rec.length > 0)
    .map((rec) => {
      const tab = rec.indexOf("\t");
      const [mode, type, hash] = rec.slice(0, tab).split(" ");
      return { mode, type, hash, path: rec.slice(tab + 1) };
    });
}

/** Where a repository's exports are cached. */
export function exportRoot(cacheDir: string, repoPath: string): string {
  const id = createHash("sha256").update(path.resolve(repoPath)).digest("hex").slice(0, 16);
  return path.join(cacheDir, "exports", id);
}

/**
 * Returns a folder holding exactly `commit`'s tree, exporting it on first use. The folder is complete
 * when it exists (it is renamed into place at the end), so a crashed export is never reused.
 */
export async function exportCommitTree(repoPath: string, commit: string, cacheDir: string): Promise<string> {
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new RepoSyncError("source", `not a commit hash: ${JSON.stringify(commit)}`);
  const root = exportRoot(cacheDir, repoPath);
  const final = path.join(root, commit);
  if (fs.existsSync(final)) {
    touch(final);
    return final;
  }
  fs.mkdirSync(root, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(root, `.tmp-${commit.slice(0, 12)}-`));
  const index = path.join(tmp, ".index");
  const tree = path.join(tmp, "tree");
  try {
    const env = { GIT_INDEX_FILE: index };
    await git(repoPath, ["read-tree", commit], env);
    await git(repoPath, ["checkout-index", "--all", "--force", `--prefix=${tree}/`], env);
    fs.mkdirSync(tree, { recursive: true }); // an empty commit still exports a folder
    const listing = await git(repoPath, ["ls-tree", "-r", "-z", "--full-tree", commit], {});
    for (const row of parseLsTree(listing)) {
      if (row.type !== "blob" || row.mode === "120000") continue; // symlink times are not synced (-J)
      const t = blobMtime(row.hash);
      fs.utimesSync(path.join(tree, row.path), t, t);
    }
    try {
      fs.renameSync(tree, final);
    } catch (err) {
      // Another run exported the same commit meanwhile: its copy is complete and identical.
      if (!fs.existsSync(final)) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  prune(root, final);
  return final;
}

async function git(repoPath: string, args: string[], env: Record<string, string>): Promise<string> {
  const r = await runProgram("git", ["-C", repoPath, ...args], { env, timeoutMs: 600_000 });
  if (r.exitCode !== 0) {
    throw new RepoSyncError("source", `git ${args[0]} failed while exporting the tree of ${repoPath}`, {
      command: r.command,
      exitCode: r.exitCode,
      stderr: r.stderr,
      hint: "check that the repository is intact (git fsck)",
    });
  }
  return r.stdout;
}

function touch(p: string): void {
  const now = new Date();
  fs.utimesSync(p, now, now);
}

/** Keeps the most recently used exports; removes older ones (never `keep`). */
function prune(root: string, keep: string): void {
  const entries = fs
    .readdirSync(root)
    .filter((n) => /^[0-9a-f]{40}(\.history)?$/.test(n)) // trees, and the .git built for a commit
    .map((n) => ({ p: path.join(root, n), t: fs.statSync(path.join(root, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const e of entries.slice(KEEP_EXPORTS)) {
    if (e.p !== keep) fs.rmSync(e.p, { recursive: true, force: true });
  }
}
