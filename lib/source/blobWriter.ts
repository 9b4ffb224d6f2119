/**
 * Writes tree entries from a commit's blobs, byte for byte as git stores them: one `git cat-file
 * --batch` streams every blob, with no filter, end-of-line or `ident` conversion (those depend on the
 * checkout's config and attributes, not on the commit). Every route that builds an export, and the
 * scan of a commit's new files, writes through here, so what is scanned is what lands.
 *
 * Files are created with O_EXCL (never through an existing name or link), mode 666/777 less the
 * umask as git checks them out, and get their blob-derived mtime before they are closed.
 */
import * as fs from "node:fs";
import { RepoSyncError } from "../errors";
import { spawnGit } from "./runGit";
import { fsPath, TreePath, TreeRow, treeProblem } from "./treeListing";

/** mtime base (2001-01-01) and span (about 20 years) for blob-derived file times. */
const MTIME_BASE_S = 978_307_200;
const MTIME_SPAN_S = 20 * 365 * 86_400;

/**
 * The deterministic mtime (seconds) for a blob: two exports of the same content carry the same
 * mtime, so rsync's quick check (size + mtime) skips unchanged files across commits, and a changed
 * file gets another mtime even when its size did not change.
 */
export function blobMtime(blobHash: string): number {
  return MTIME_BASE_S + (parseInt(blobHash.slice(0, 8), 16) % MTIME_SPAN_S);
}

/** Parses one `git cat-file --batch` header line (pure): the size, or undefined for `missing`. */
export function parseBatchHeader(line: string): { hash: string; type: string; size: number } | undefined {
  const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (\w+) (\d+)$/.exec(line);
  return m ? { hash: m[1], type: m[2], size: Number(m[3]) } : undefined;
}

/** Where one blob goes while it streams in. */
interface Sink {
  row: TreeRow;
  fd?: number;
  link?: Buffer[];
}

/**
 * Writes `rows` under `root` (whose folders may or may not exist yet). The paths are checked first
 * (treeProblem), whoever listed them. Submodule pointers become empty folders, as `git checkout-index`
 * makes them.
 */
export async function writeTreeEntries(repoPath: string, root: string, rows: TreeRow[], gitDir?: string): Promise<void> {
  // Every caller checked its listing; checked again here, where the writes are, so that no new caller can forget.
  const problem = treeProblem(rows);
  if (problem) throw new RepoSyncError("source", `refusing to write ${problem} under ${root}; nothing was written`, { hint: "the commit was crafted or the repository is damaged: run `git fsck`" });
  makeParents(root, rows.map((r) => r.path));
  for (const r of rows) if (r.mode === "160000") fs.mkdirSync(fsPath(root, r.path));
  const blobs = rows.filter((r) => r.mode !== "160000");
  if (blobs.length > 0) await streamBlobs(repoPath, root, blobs, gitDir);
}

/** Creates the folders the paths need, parents first (a folder that exists is fine). */
function makeParents(root: string, paths: TreePath[]): void {
  const dirs = new Set<TreePath>();
  for (const p of paths) {
    const slash = p.lastIndexOf("/");
    if (slash > 0) dirs.add(p.slice(0, slash));
  }
  for (const d of [...dirs].sort()) fs.mkdirSync(fsPath(root, d), { recursive: true });
}

function streamBlobs(repoPath: string, root: string, rows: TreeRow[], gitDir?: string): Promise<void> {
  const args = [...(gitDir ? [`--git-dir=${gitDir}`] : []), "cat-file", "--batch"];
  const command = ["git", "-C", repoPath, ...args];
  return new Promise((resolve, reject) => {
    const child = spawnGit(repoPath, args);
    const stderr: Buffer[] = [];
    let next = 0;
    let sink: Sink | undefined;
    let remaining = 0;
    let header = Buffer.alloc(0);
    let failure: Error | undefined;
    const fail = (err: Error) => {
      failure ??= err;
      if (sink?.fd !== undefined) fs.closeSync(sink.fd);
      sink = undefined;
      child.kill("SIGKILL");
    };
    const open = (row: TreeRow): Sink => {
      if (row.mode === "120000") return { row, link: [] };
      return { row, fd: fs.openSync(fsPath(root, row.path), "wx", row.mode === "100755" ? 0o777 : 0o666) };
    };
    const finish = (s: Sink) => {
      const full = fsPath(root, s.row.path);
      if (s.link) {
        fs.symlinkSync(Buffer.concat(s.link), full);
      } else if (s.fd !== undefined) {
        const t = blobMtime(s.row.hash);
        fs.futimesSync(s.fd, t, t);
        fs.closeSync(s.fd);
      }
    };
    // The stream alternates: a header line, `size` bytes of contents, one newline.
    let state: "header" | "body" | "newline" = "header";
    child.stdout.on("data", (chunk: Buffer) => {
      if (failure) return;
      try {
        let at = 0;
        while (at < chunk.length) {
          if (state === "header") {
            const nl = chunk.indexOf(10, at);
            if (nl < 0) {
              header = Buffer.concat([header, chunk.subarray(at)]);
              break;
            }
            const line = Buffer.concat([header, chunk.subarray(at, nl)]).toString("latin1");
            header = Buffer.alloc(0);
            at = nl + 1;
            const row = rows[next++];
            const h = parseBatchHeader(line);
            if (!row || !h || h.type !== "blob" || h.hash !== row.hash) throw new Error(`git cat-file answered ${JSON.stringify(line)} for blob ${row?.hash ?? "(none asked)"}`);
            sink = open(row);
            remaining = h.size;
            state = remaining === 0 ? "newline" : "body";
          } else if (state === "body" && sink) {
            const take = Math.min(remaining, chunk.length - at);
            if (sink.link) sink.link.push(Buffer.from(chunk.subarray(at, at + take)));
            else fs.writeSync(sink.fd as number, chunk, at, take);
            at += take;
            remaining -= take;
            if (remaining === 0) state = "newline";
          } else if (sink) {
            at += 1;
            finish(sink);
            sink = undefined;
            state = "header";
          }
        }
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    child.stderr.on("data", (d: Buffer) => stderr.push(d));
    child.stdin.on("error", () => undefined);
    child.on("error", (e) => fail(e));
    child.on("close", (code) => {
      if (sink && !failure) fail(new Error("git cat-file ended in the middle of a blob"));
      if (!failure && next < rows.length) failure = new Error(`git cat-file answered ${next} of ${rows.length} blobs`);
      if (!failure && code !== 0) failure = new Error(`git cat-file exited with ${code}`);
      if (!failure) return resolve();
      reject(
        new RepoSyncError("source", `writing ${rows.length} file${rows.length === 1 ? "" : "s"} of the tree from git failed: ${failure.message}`, {
          command,
          exitCode: code ?? -1,
          stderr: Buffer.concat(stderr).toString("utf8"),
          hint: /ENOSPC/.test(failure.message) ? "the disk of repo-sync's cache is full: free space there (or point REPO_SYNC_CACHE at another disk) and run again" : "check that the repository is intact (git fsck) and that the cache folder is writable",
          cause: failure,
        }),
      );
    });
    child.stdin.end(rows.map((r) => `${r.hash}\n`).join(""));
  });
}
