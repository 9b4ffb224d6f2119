/**
 * Checks a cached export against its commit before it is pushed or derived from: the cache is a
 * folder on disk, and a file planted or edited there would otherwise be pushed unscanned while
 * `status` says in sync.
 *
 * The cheap part covers every entry: the names (nothing more, nothing less), each entry's type, a
 * file's size, blob-derived mtime and executable bit, a symlink's target (its blob hash is computed
 * from readlink). Content is hashed only for files whose ctime is not older than the export's seal
 * (written when the export was complete): an edit, even one that puts the size and mtime back
 * (`touch -r`), moves the ctime, which no user can set. Hard-linking a file into a newer export also
 * moves it, so an old export reused later is hashed once and sealed again.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { blobMtime } from "./blobWriter";
import { displayPath, fsPath, TreePath, TreeRow } from "./treeListing";

/** What {@link checkExport} found. */
export interface ExportCheck {
  /** Why the folder is not the commit's tree, or undefined when it is. */
  problem?: string;
  /** Files whose content was hashed (edited since the seal, or no seal). */
  hashed: number;
}

/** The seal file of an export folder (beside it: the folder itself is pushed whole). */
export function sealFile(dir: string): string {
  return `${dir}.seal`;
}

/** Seals an export: files changed after this moment get their content checked on next use. */
export function sealExport(dir: string): void {
  const file = sealFile(dir);
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, "repo-sync export seal\n", { flag: "wx" });
}

/** git's blob hash of some bytes (SHA-1, or SHA-256 for a repository that uses it). */
export function gitBlobHash(bytes: Buffer, like: string): string {
  const h = createHash(like.length === 64 ? "sha256" : "sha1");
  h.update(`blob ${bytes.length}\0`);
  h.update(bytes);
  return h.digest("hex");
}

/** Checks `dir` against the commit's listing (see the module comment). */
export function checkExport(dir: string, rows: TreeRow[]): ExportCheck {
  let seal = -1n;
  try {
    seal = fs.statSync(sealFile(dir), { bigint: true }).ctimeNs;
  } catch {
    // no seal: every file's content is checked
  }
  const byPath = new Map<TreePath, TreeRow>(rows.map((r) => [r.path, r]));
  const folders = new Set<TreePath>();
  for (const r of rows) for (let i = r.path.indexOf("/"); i > 0; i = r.path.indexOf("/", i + 1)) folders.add(r.path.slice(0, i));
  let seen = 0;
  let hashed = 0;
  const walk = (rel: TreePath): string | undefined => {
    const full = rel === "" ? Buffer.from(dir) : fsPath(dir, rel);
    for (const name of fs.readdirSync(full, { encoding: "buffer" })) {
      const p = rel === "" ? name.toString("latin1") : `${rel}/${name.toString("latin1")}`;
      const st = fs.lstatSync(fsPath(dir, p), { bigint: true });
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
      if (Number(st.size) !== row.size) return `${shown} has ${st.size} bytes, the commit's blob ${row.size}`;
      if (st.mtimeMs / 1000n !== BigInt(blobMtime(row.hash))) return `${shown} was modified (its mtime is not the blob's)`;
      if (((st.mode & 0o111n) !== 0n) !== (row.mode === "100755")) return `${shown} has another executable bit than in the commit`;
      if (st.ctimeNs >= seal) {
        hashed++;
        if (gitBlobHash(fs.readFileSync(fsPath(dir, p)), row.hash) !== row.hash) return `${shown} does not hold the commit's content`;
      }
    }
    return undefined;
  };
  const problem = walk("");
  if (problem) return { problem, hashed };
  if (seen !== rows.length) return { problem: `${rows.length - seen} of the commit's entries are missing`, hashed };
  return { hashed };
}
