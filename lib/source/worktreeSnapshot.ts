/**
 * Worktree source mode pushes the checkout as it is (tracked, modified and untracked files alike,
 * `.git` left out). A live folder can change between the scan and the transfer, so the run works on
 * a snapshot: a private copy in the cache that the gate scans and rsync sends. What is scanned is
 * then byte for byte what lands.
 *
 * The snapshot costs what changed: a file whose stat data (device, inode, size, mode, mtime and
 * ctime, as git's index keeps them) is the one recorded for the last snapshot is hard-linked from it
 * with its known blob hash; any other file is copied, checked unchanged across the copy, and hashed
 * from the copy. ctime cannot be set by a user, so an edit that restores size and mtime (`touch -r`)
 * is still seen; a file changed within the last {@link RACY_MS} is never trusted (git's "racy" case).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import type { TreeEntry } from "./treeListing";
import { gitBlobHash } from "./exportCheck";
import { sourceIoError } from "./exportTree";
import { runGit } from "./runGit";
import { displayPath, fsPath, TreePath } from "./treeListing";

/** A file changed this recently may change again within the same timestamp tick: never trusted. */
const RACY_MS = 2_000;
/** Snapshots kept per checkout (a concurrent run may still be pushing the one before). */
const KEEP_SNAPSHOTS = 3;
/** Copies of a file that kept changing while it was copied, before the run gives up. */
const COPY_TRIES = 3;

/** A worktree snapshot: the folder to scan and push, its regular files and symlinks with their blob hashes. */
export interface WorktreeSnapshot {
  dir: string;
  entries: TreeEntry[];
  /** A file changed with its size and mtime kept: rsync's quick check would miss it (compare contents). */
  quickCheckBlind: boolean;
}

interface StatRow {
  /** `dev:ino:size:mode:mtimeNs:ctimeNs` of the checkout's file when it was copied. */
  key: string;
  id: string;
}

/** The stat data a file is trusted by (pure). */
export function statKey(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mode}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Takes a snapshot of the checkout `root` under `stateDir` (see the module comment). */
export async function snapshotWorktree(root: string, stateDir: string, cacheRoot?: string): Promise<WorktreeSnapshot> {
  try {
    return await takeSnapshot(root, stateDir, cacheRoot);
  } catch (err) {
    throw sourceIoError(err, `taking a snapshot of the checkout ${root}`);
  }
}

async function takeSnapshot(root: string, stateDir: string, cacheRoot?: string): Promise<WorktreeSnapshot> {
  // A cache inside the checkout (REPO_SYNC_CACHE there) is never part of the tree: it would copy itself.
  const skip = cacheRoot ? realOrResolved(cacheRoot) : undefined;
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const prev = latest(stateDir);
  const prevRows = prev ? readRows(path.join(stateDir, `${prev}.json`)) : new Map<TreePath, StatRow>();
  const name = `snap-${Date.now()}-${process.pid}`;
  const tmp = path.join(stateDir, `.tmp-${name}`);
  fs.mkdirSync(tmp, { mode: 0o700 });
  const rows = new Map<TreePath, StatRow>();
  const copied: TreePath[] = [];
  const keys = new Map<TreePath, string>();
  const links: TreeEntry[] = [];
  let quickCheckBlind = false;
  const now = BigInt(Date.now()) * 1_000_000n;
  const racy = BigInt(RACY_MS) * 1_000_000n;
  try {
    const walk = (rel: TreePath) => {
      for (const n of gone(() => fs.readdirSync(rel === "" ? root : fsPath(root, rel), { encoding: "buffer" })) ?? []) {
        const name = n.toString("latin1");
        if (name === ".git") continue;
        const p = rel === "" ? name : `${rel}/${name}`;
        // A file removed while the walk runs (an editor's swap file) is simply not part of the snapshot.
        const st = gone(() => fs.lstatSync(fsPath(root, p), { bigint: true }));
        if (!st) continue;
        if (st.isDirectory()) {
          if (skip !== undefined && realOrResolved(fsPath(root, p).toString()) === skip) continue;
          fs.mkdirSync(fsPath(tmp, p));
          walk(p);
          fs.chmodSync(fsPath(tmp, p), Number(st.mode & 0o7777n));
        } else if (st.isSymbolicLink()) {
          const target = gone(() => fs.readlinkSync(fsPath(root, p), { encoding: "buffer" }));
          if (!target) continue;
          fs.symlinkSync(target, fsPath(tmp, p));
          links.push({ path: p, id: gitBlobHash(target, "0".repeat(40)), link: true });
        } else if (st.isFile()) {
          const known = prevRows.get(p);
          const key = statKey(st);
          if (prev && known && known.key === key && now - st.mtimeNs > racy && now - st.ctimeNs > racy && linked(path.join(stateDir, prev), tmp, p, st)) {
            rows.set(p, known);
          } else {
            const copiedKey = copyStable(root, tmp, p);
            if (copiedKey === undefined) continue;
            keys.set(p, copiedKey);
            copied.push(p);
          }
        }
        // sockets, fifos and devices are not part of a source tree: left out
      }
    };
    walk("");
    // The snapshot's top folder is pushed as the target's: it takes the checkout's mode, not the cache's 0700.
    fs.chmodSync(tmp, fs.statSync(root).mode & 0o7777);
    const ids = await hashFiles(tmp, copied);
    copied.forEach((p, i) => {
      const before = prevRows.get(p);
      if (before && before.id !== ids[i] && sameSizeAndTime(before.key, keys.get(p) as string)) quickCheckBlind = true;
      rows.set(p, { key: keys.get(p) as string, id: ids[i] });
    });
    fs.writeFileSync(path.join(stateDir, `${name}.json`), JSON.stringify([...rows].map(([p, r]) => [Buffer.from(p, "latin1").toString("base64"), r.key, r.id])));
    fs.renameSync(tmp, path.join(stateDir, name));
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  prune(stateDir, name);
  return { dir: path.join(stateDir, name), entries: [...[...rows].map(([p, r]) => ({ path: p, id: r.id })), ...links], quickCheckBlind };
}

/**
 * Hard-links the last snapshot's copy of `rel` into the new one; false when that copy is gone, or no
 * longer has the checkout file's size, mtime and mode (edited in the cache): it is copied again then.
 */
function linked(prevDir: string, into: string, rel: TreePath, source: fs.BigIntStats): boolean {
  try {
    fs.linkSync(fsPath(prevDir, rel), fsPath(into, rel));
  } catch {
    return false;
  }
  const copy = fs.lstatSync(fsPath(into, rel), { bigint: true });
  const sameTime = (copy.mtimeNs > source.mtimeNs ? copy.mtimeNs - source.mtimeNs : source.mtimeNs - copy.mtimeNs) < 1_000_000n;
  if (copy.isFile() && copy.size === source.size && sameTime && (copy.mode & 0o7777n) === (source.mode & 0o7777n)) return true;
  fs.rmSync(fsPath(into, rel), { force: true });
  return false;
}

/** The real path (links resolved), or the path as given when it does not exist. */
function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** `f()`, or undefined when what it reads was removed meanwhile (ENOENT). */
function gone<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Copies one file with its mode and times, and returns the stat key it had: the copy counts only when
 * the file's stat data is the same before and after it (a file being written is copied again).
 * Undefined: the file was removed, or replaced by something that is not a file, meanwhile (left out of
 * the snapshot). The file is opened without following a link and copied from that descriptor, so a
 * name swapped for a link during the copy cannot bring another file's bytes in.
 */
function copyStable(root: string, into: string, rel: TreePath): string | undefined {
  const from = fsPath(root, rel);
  const to = fsPath(into, rel);
  for (let i = 0; i < COPY_TRIES; i++) {
    let fd: number;
    try {
      fd = fs.openSync(from, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch (err) {
      if (["ENOENT", "ELOOP", "ENXIO"].includes((err as NodeJS.ErrnoException).code ?? "")) return undefined;
      throw err;
    }
    try {
      const before = fs.fstatSync(fd, { bigint: true });
      if (!before.isFile()) return undefined;
      fs.rmSync(to, { force: true });
      copyFromFd(fd, to);
      const after = fs.fstatSync(fd, { bigint: true });
      const named = gone(() => fs.lstatSync(from, { bigint: true }));
      if (statKey(before) === statKey(after) && named?.ino === before.ino && named.dev === before.dev) {
        fs.chmodSync(to, Number(before.mode & 0o7777n));
        fs.utimesSync(to, Number(before.atimeMs) / 1000, Number(before.mtimeNs) / 1e9);
        return statKey(before);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.rmSync(to, { force: true });
  throw new RepoSyncError("source", `${JSON.stringify(displayPath(rel))} in the checkout ${root} kept changing while repo-sync copied it (${COPY_TRIES} tries); nothing was pushed`, {
    hint: "stop whatever writes to the checkout during the sync, or use source_mode: commit",
  });
}

/** Copies what an open file holds into a new file `to` (never through an existing name). */
function copyFromFd(fd: number, to: Buffer): void {
  const out = fs.openSync(to, "wx", 0o600);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      fs.writeSync(out, buf, 0, n);
      pos += n;
    }
  } finally {
    fs.closeSync(out);
  }
}

/**
 * True when a re-copied file kept the size and mtime (whole seconds, what rsync compares) of the copy
 * it replaces while its content changed (pure): rsync's quick check would skip it on the VMs.
 */
export function sameSizeAndTime(previousKey: string, key: string): boolean {
  const [, , size0, , mtime0] = previousKey.split(":");
  const [, , size1, , mtime1] = key.split(":");
  return size0 === size1 && BigInt(mtime0 ?? "0") / 1_000_000_000n === BigInt(mtime1 ?? "0") / 1_000_000_000n;
}

/** git blob hashes of the snapshot's copies (raw bytes: gitleaks reads the raw bytes too). */
async function hashFiles(dir: string, rels: TreePath[]): Promise<string[]> {
  if (rels.length === 0) return [];
  // Paths go through stdin one per line: a name with a newline is hashed on its own.
  const plain = rels.filter((p) => !p.includes("\n"));
  const ids = new Map<TreePath, string>();
  if (plain.length > 0) {
    const r = await runGit(dir, ["hash-object", "--no-filters", "--stdin-paths"], { input: Buffer.concat(plain.map((p) => Buffer.concat([fsPath(dir, p), Buffer.from("\n")]))) });
    const out = r.stdout.split("\n").filter((l) => l !== "");
    if (r.exitCode !== 0 || out.length !== plain.length) {
      throw new RepoSyncError("source", `git hash-object failed hashing ${plain.length} files of the worktree snapshot ${dir}`, { command: r.command.slice(0, 6), exitCode: r.exitCode, stderr: r.stderr });
    }
    plain.forEach((p, i) => ids.set(p, out[i]));
  }
  for (const p of rels.filter((q) => q.includes("\n"))) {
    const r = await runGit(dir, ["hash-object", "--no-filters", "--stdin"], { input: fs.readFileSync(fsPath(dir, p)) });
    if (r.exitCode !== 0) throw new RepoSyncError("source", `git hash-object failed hashing ${JSON.stringify(displayPath(p))}`, { command: r.command, exitCode: r.exitCode, stderr: r.stderr });
    ids.set(p, r.stdout.trim());
  }
  return rels.map((p) => ids.get(p) as string);
}

/** The newest complete snapshot's name, if any. */
function latest(stateDir: string): string | undefined {
  return fs
    .readdirSync(stateDir)
    .filter((n) => /^snap-\d+-\d+$/.test(n) && fs.existsSync(path.join(stateDir, `${n}.json`)))
    .sort((a, b) => Number(a.split("-")[1]) - Number(b.split("-")[1]))
    .pop();
}

function readRows(file: string): Map<TreePath, StatRow> {
  try {
    const data = JSON.parse(fs.readFileSync(file, "utf8")) as Array<[string, string, string]>;
    return new Map(data.map(([p, key, id]) => [Buffer.from(p, "base64").toString("latin1"), { key, id }]));
  } catch {
    return new Map();
  }
}

/** Keeps the newest snapshots (never `keep`), removing older ones with their records. */
function prune(stateDir: string, keep: string): void {
  const snaps = fs
    .readdirSync(stateDir)
    .filter((n) => /^snap-\d+-\d+$/.test(n))
    .sort((a, b) => Number(b.split("-")[1]) - Number(a.split("-")[1]));
  for (const n of snaps.slice(KEEP_SNAPSHOTS)) {
    if (n === keep) continue;
    fs.rmSync(path.join(stateDir, n), { recursive: true, force: true });
    fs.rmSync(path.join(stateDir, `${n}.json`), { force: true });
  }
}
