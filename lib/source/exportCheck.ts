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
import { runProgram } from "../process/run";
import { displayPath, fsPath, TreePath, TreeRow } from "./treeListing";

/** git's blob hash of some bytes (SHA-1, or SHA-256 for a repository that uses it). */
export function gitBlobHash(bytes: Buffer, like: string): string {
  const h = createHash(like.length === 64 ? "sha256" : "sha1");
  h.update(`blob ${bytes.length}\0`);
  h.update(bytes);
  return h.digest("hex");
}

/** One entry of an export folder as `find -printf` lists it (see {@link listExport}). */
export interface ExportEntry {
  /** find's %y: f, d, l, or another letter for anything else. */
  type: string;
  /** Permission bits. */
  mode: number;
  /** Whole seconds of the mtime. */
  mtimeS: number;
  /** A symlink's target bytes (latin1), else "". */
  link: string;
  path: TreePath;
}

/** find's -printf format (`\\0` is find's own escape): type, mode, mtime, link target, path, each NUL-ended. */
export const FIND_FORMAT = "%y\\0%m\\0%T@\\0%l\\0%P\\0";

/** Parses `find DIR -mindepth 1 -printf FIND_FORMAT` output, decoded one char per byte (pure). */
export function parseFindListing(z: string): ExportEntry[] {
  const parts = z.split("\0");
  const out: ExportEntry[] = [];
  for (let i = 0; i + 4 < parts.length; i += 5) {
    out.push({ type: parts[i], mode: parseInt(parts[i + 1], 8), mtimeS: Math.floor(Number(parts[i + 2])), link: parts[i + 3], path: parts[i + 4] });
  }
  return out;
}

/**
 * Why a listed export is not the commit's tree, or undefined when it is (pure; see the module
 * comment): the names, each entry's type, a file's blob-derived mtime and executable bit, a symlink's
 * target. `content` hashes a listed file (its row given) when asked (a full check).
 */
export function listingProblem(entries: ExportEntry[], rows: TreeRow[], content?: (row: TreeRow) => string): string | undefined {
  const byPath = new Map<TreePath, TreeRow>(rows.map((r) => [r.path, r]));
  const folders = new Set<TreePath>();
  for (const r of rows) for (let i = r.path.indexOf("/"); i > 0; i = r.path.indexOf("/", i + 1)) folders.add(r.path.slice(0, i));
  const submodules = new Set(rows.filter((r) => r.mode === "160000").map((r) => r.path));
  let seen = 0;
  for (const e of entries) {
    const row = byPath.get(e.path);
    const shown = JSON.stringify(displayPath(e.path));
    const slash = e.path.lastIndexOf("/");
    if (slash > 0 && submodules.has(e.path.slice(0, slash))) return `the submodule folder ${JSON.stringify(displayPath(e.path.slice(0, slash)))} is not empty`;
    if (e.type === "d") {
      if (row?.mode === "160000") seen++;
      else if (!folders.has(e.path)) return `the folder ${shown} is not in the commit`;
      continue;
    }
    if (!row) return `${shown} is not in the commit`;
    seen++;
    if (e.type === "l") {
      if (row.mode !== "120000") return `${shown} is a symlink, the commit has a file`;
      if (gitBlobHash(Buffer.from(e.link, "latin1"), row.hash) !== row.hash) return `the symlink ${shown} points elsewhere than in the commit`;
      continue;
    }
    if (e.type !== "f" || (row.mode !== "100644" && row.mode !== "100755")) return `${shown} is not the ${row.mode === "120000" ? "symlink" : "file"} the commit has`;
    if (e.mtimeS !== blobMtime(row.hash)) return `${shown} was modified (its mtime is not the blob's)`;
    if (((e.mode & 0o111) !== 0) !== (row.mode === "100755")) return `${shown} has another executable bit than in the commit`;
    if (content && content(row) !== row.hash) return `${shown} does not hold the commit's content`;
  }
  if (seen !== rows.length) return `${rows.length - seen} of the commit's entries are missing`;
  return undefined;
}

/** Lists an export folder with `find` (names as bytes). */
export async function listExport(dir: string): Promise<ExportEntry[]> {
  const r = await runProgram("find", [dir, "-mindepth", "1", "-printf", FIND_FORMAT], { timeoutMs: 600_000 });
  if (r.exitCode !== 0) throw new Error(`find ${dir} exited with ${r.exitCode}: ${r.stderr.trim().slice(0, 300)}`);
  return parseFindListing(r.stdoutBytes.toString("latin1"));
}

/**
 * Why `dir` is not the commit's tree (see the module comment), or undefined when it is; `full` also
 * hashes every file's content. `listed`: the folder's listing when the caller took it already.
 */
export async function exportProblem(dir: string, rows: TreeRow[], full = false, listed?: ExportEntry[]): Promise<string | undefined> {
  return listingProblem(listed ?? (await listExport(dir)), rows, full ? (r) => gitBlobHash(fs.readFileSync(fsPath(dir, r.path)), r.hash) : undefined);
}
