/**
 * A commit's tree as one validated listing: every entry with its mode, blob hash, size and path. The
 * export, the secret scan and the cached-export check all start from it, so a tree is checked once,
 * before anything is written anywhere (a crafted tree must not reach the file system through the
 * scan while the export refuses it).
 *
 * Paths are bytes, as git stores them: a {@link TreePath} holds one char per byte (latin1), so a name
 * that is not UTF-8 is written, compared and recorded exactly, and only decoded for display.
 */
import { RepoSyncError } from "../errors";
import { gitBytes } from "./runGit";

/** A path inside a tree, `/`-separated, one char per byte (see the module comment). */
export type TreePath = string;

/** One entry of a recursive tree listing (trees themselves are implied by the paths). */
/**
 * One file of a tree as the secret gate keys its verdicts (scan/cleanRecord.ts): its path (relative,
 * `/`-separated, one char per byte) and its content id.
 */
export interface TreeEntry {
  /** A symlink: its target is what is scanned (gitleaks itself does not follow links). */
  link?: boolean;
  path: string;
  id: string;
}

export interface TreeRow {
  /** 100644, 100755 (files), 120000 (symlink), 160000 (submodule pointer). */
  mode: string;
  /** Blob hash (commit hash for a submodule). */
  hash: string;
  path: TreePath;
}

/** The modes git checks out; anything else in a tree was crafted. */
const MODES = new Set(["100644", "100755", "120000", "160000"]);

/** The bytes of a tree path. */
export function pathBytes(p: TreePath): Buffer {
  return Buffer.from(p, "latin1");
}

/** A tree path as text for messages (bytes that are not UTF-8 show as U+FFFD). */
export function displayPath(p: TreePath): string {
  return pathBytes(p).toString("utf8");
}

/** A tree path from a UTF-8 string (a name typed by a person, e.g. `.gitleaksignore`). */
export function treePath(text: string): TreePath {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** `root/rel` as a file-system path (bytes: Node's fs takes them as they are). */
export function fsPath(root: string, rel: TreePath): Buffer {
  return Buffer.concat([Buffer.from(root.endsWith("/") ? root : `${root}/`, "utf8"), pathBytes(rel)]);
}

/** Parses `git ls-tree -r -z` output (pure). */
export function parseLsTree(z: Buffer): TreeRow[] {
  const rows: TreeRow[] = [];
  for (const rec of z.toString("latin1").split("\0")) {
    if (rec === "") continue;
    const m = /^(\d{6}) (blob|commit|tree) ([0-9a-f]{40}|[0-9a-f]{64})\t([^]*)$/.exec(rec);
    if (!m) throw new RepoSyncError("source", `cannot read a line of git ls-tree: ${JSON.stringify(displayPath(rec.slice(0, 200)))}`, { hint: "check that the repository is intact (git fsck)" });
    rows.push({ mode: m[1], hash: m[3], path: m[4] });
  }
  return rows;
}

/**
 * True for a tree path git would check out: relative, no empty, `.` or `..` component, no `.git`
 * component in any letter case (pure).
 */
export function isCheckoutSafePath(p: TreePath): boolean {
  if (p === "" || p.startsWith("/")) return false;
  return p.split("/").every((part) => part !== "" && part !== "." && part !== ".." && part.toLowerCase() !== ".git");
}

/**
 * Why a listing cannot be written as a tree, or undefined (pure): a path git refuses to check out, a
 * mode git does not write, a path listed twice, or a path below another entry (a file or a symlink
 * named like a folder: written in order, the second would go through the symlink).
 */
export function treeProblem(rows: TreeRow[]): string | undefined {
  const seen = new Set<TreePath>();
  for (const r of rows) {
    if (!isCheckoutSafePath(r.path)) return `the path ${JSON.stringify(displayPath(r.path))}, which git itself refuses to check out`;
    if (!MODES.has(r.mode)) return `the entry ${JSON.stringify(displayPath(r.path))} with mode ${r.mode}, which git does not check out`;
    if (seen.has(r.path)) return `the path ${JSON.stringify(displayPath(r.path))} twice`;
    seen.add(r.path);
  }
  for (const r of rows) {
    for (let i = r.path.indexOf("/"); i > 0; i = r.path.indexOf("/", i + 1)) {
      const parent = r.path.slice(0, i);
      if (seen.has(parent)) return `the path ${JSON.stringify(displayPath(r.path))} below the entry ${JSON.stringify(displayPath(parent))}, which is not a folder`;
    }
  }
  return undefined;
}

/**
 * Lists `commit`'s whole tree and checks it ({@link treeProblem}); throws a source error naming the
 * bad entry. Nothing is written anywhere before this passed.
 */
export async function listCommitTree(repoPath: string, commit: string): Promise<TreeRow[]> {
  const rows = parseLsTree(await gitBytes(repoPath, ["ls-tree", "-r", "-z", "--full-tree", commit], `listing the tree of ${commit.slice(0, 12)}`));
  const problem = treeProblem(rows);
  if (problem) {
    throw new RepoSyncError("source", `commit ${commit.slice(0, 12)} holds ${problem}; nothing was exported, scanned or pushed`, {
      hint: "the commit was crafted or the repository is damaged: run `git fsck`, and remove the entry in a new commit",
    });
  }
  return rows;
}
