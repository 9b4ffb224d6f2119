/**
 * Checks a cached export against its commit before it is pushed or derived from: a file planted or
 * edited there would otherwise be pushed unscanned while `status` says in sync.
 *
 * The exports live in a private cache folder (0700, see paths.ts): only this user (or root) can write
 * there. The check every run makes is cheap and covers every entry: the names (nothing planted,
 * nothing missing), each entry's type, a file's blob-derived mtime and executable bit, a symlink's
 * target (its blob hash is computed from readlink). An edit through the ordinary tools moves the
 * mtime. Content is hashed on demand (`full`: `sync --full-scan`), which also catches an edit that put
 * the mtime back (`touch -r`). ctime cannot serve as a cheaper seal here: exports share files as hard
 * links, and every export made or pruned changes the ctime of the files it shares.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { blobMtime } from "./blobWriter";
import { displayPath, fsPath, TreePath, TreeRow } from "./treeListing";

/** git's blob hash of some bytes (SHA-1, or SHA-256 for a repository that uses it). */
export function gitBlobHash(bytes: Buffer, like: string): string {
  const h = createHash(like.length === 64 ? "sha256" : "sha1");
  h.update(`blob ${bytes.length}\0`);
  h.update(bytes);
  return h.digest("hex");
}

/**
 * Why `dir` is not the commit's tree (see the module comment), or undefined when it is; `full` also
 * hashes every file's content.
 */
export function exportProblem(dir: string, rows: TreeRow[], full = false): string | undefined {
  const byPath = new Map<TreePath, TreeRow>(rows.map((r) => [r.path, r]));
  const folders = new Set<TreePath>();
  for (const r of rows) for (let i = r.path.indexOf("/"); i > 0; i = r.path.indexOf("/", i + 1)) folders.add(r.path.slice(0, i));
  let seen = 0;
  const walk = (rel: TreePath): string | undefined => {
    for (const name of fs.readdirSync(rel === "" ? dir : fsPath(dir, rel), { encoding: "buffer" })) {
      const p = rel === "" ? name.toString("latin1") : `${rel}/${name.toString("latin1")}`;
      const st = fs.lstatSync(fsPath(dir, p));
      const row = byPath.get(p);
      const shown = JSON.stringify(displayPath(p));
      if (st.isDirectory()) {
        if (row?.mode === "160000") {
          seen++;
          if (fs.readdirSync(fsPath(dir, p)).length > 0) return `the submodule folder ${shown} is not empty`;
          continue;
        }
        if (!folders.has(p)) return `the folder ${shown} is not in the commit`;
        const inner = walk(p);
        if (inner) return inner;
        continue;
      }
      if (!row) return `${shown} is not in the commit`;
      seen++;
      if (st.isSymbolicLink()) {
        if (row.mode !== "120000") return `${shown} is a symlink, the commit has a file`;
        if (gitBlobHash(fs.readlinkSync(fsPath(dir, p), { encoding: "buffer" }), row.hash) !== row.hash) return `the symlink ${shown} points elsewhere than in the commit`;
        continue;
      }
      if (!st.isFile() || (row.mode !== "100644" && row.mode !== "100755")) return `${shown} is not the ${row.mode === "120000" ? "symlink" : "file"} the commit has`;
      if (Math.floor(st.mtimeMs / 1000) !== blobMtime(row.hash)) return `${shown} was modified (its mtime is not the blob's)`;
      if (((st.mode & 0o111) !== 0) !== (row.mode === "100755")) return `${shown} has another executable bit than in the commit`;
      if (full && gitBlobHash(fs.readFileSync(fsPath(dir, p)), row.hash) !== row.hash) return `${shown} does not hold the commit's content`;
    }
    return undefined;
  };
  const problem = walk("");
  if (problem) return problem;
  if (seen !== rows.length) return `${rows.length - seen} of the commit's entries are missing`;
  return undefined;
}
