/**
 * The secret gate at the cost of what changed: gitleaks runs only over the (path, content) pairs of a
 * tree that no earlier scan under the same identity found clean (see cleanRecord.ts). Those files
 * are materialized under their own relative paths (rules and allowlists look at paths), beside the
 * tree's `.gitleaksignore`, and scanned as a folder: a finding names the same file, line and
 * fingerprint a full scan prints. Anything that could change a verdict (rules, gitleaks version,
 * options, `.gitleaksignore`) selects another record, which starts empty: a full scan.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fsPath } from "../source/treeListing";
import { advanceRecord, pairKey, readRecord, TreeEntry, writeRecord } from "./cleanRecord";
import { gitleaksVersion, readIgnoreFile, readRules, scanIdentity, scanRepository, SecretScanResult } from "./scanRepository";

/** Options for {@link scanTreeIncremental}. */
export interface IncrementalScanOptions {
  /** gitleaks rules; default: gitleaks' built-in rules. */
  configPath?: string;
  ignoreInlineAllow?: boolean;
  cacheDir: string;
  /** Ignore the record: scan every file (the record is then rebuilt from this scan). */
  full?: boolean;
  gitleaksBin?: string;
}

/** A scan result that also says how much was really scanned. */
export interface IncrementalScanResult extends SecretScanResult {
  /** Files gitleaks read in this run (all of them for a full scan, 0 when nothing was new). */
  scannedFiles: number;
  /** Files of the tree. */
  totalFiles: number;
  full: boolean;
}

/** Up to this many new files are written from the source directly; more are linked from the tree's folder. */
const FEW_FILES = 16;

/** A tree as the gate sees it. */
export interface ScanTree {
  /** Its regular files and symlinks (a link's target is scanned as text), each with its content id. */
  entries: TreeEntry[];
  /** The folder holding the whole tree; may still be being built (the scan of a few files does not wait). */
  dir: Promise<string>;
  /** The text of the tree's top-level `.gitleaksignore` (undefined: none). */
  ignoreFile: string | undefined;
  /** rsync's quick check cannot be trusted for this tree (see sync/push.ts quickCheckUnsafe). */
  quickCheckBlind?: boolean;
  /** Writes a few files (and their parent folders) into a folder under their paths, straight from the source (a commit's blobs). */
  writeFiles?: (files: TreeEntry[], into: string) => Promise<void>;
}

/** A tree whose folder is complete: a worktree, or a folder scanned as it is. */
export function folderTree(dir: string, entries: TreeEntry[]): ScanTree {
  return { entries, dir: Promise.resolve(dir), ignoreFile: readIgnoreFile(dir) };
}

/**
 * Scans `tree`, skipping (path, content) pairs found clean before. `recordId` names the repository.
 */
export async function scanTreeIncremental(tree: ScanTree, recordId: string, opts: IncrementalScanOptions): Promise<IncrementalScanResult> {
  const bin = opts.gitleaksBin ?? "gitleaks";
  const version = await gitleaksVersion(bin, opts.cacheDir);
  const { rulesPath, rulesText } = readRules(opts.configPath, opts.cacheDir);
  const ignoreInlineAllow = opts.ignoreInlineAllow === true;
  const { entries, ignoreFile } = tree;
  const key = scanIdentity(rulesText, version, ignoreInlineAllow, ignoreFile);
  const recordFile = path.join(opts.cacheDir, "scans", "clean", `${recordId}-${key}.tsv`);
  const record = opts.full ? new Map<string, number>() : readRecord(recordFile);
  const pending = entries.filter((e) => !record.has(pairKey(e)));
  const scanOpts = { configPath: rulesPath, ignoreInlineAllow, cacheDir: opts.cacheDir, gitleaksBin: bin };

  const full = pending.length === entries.length;
  const files = entries.filter((e) => !e.link).length;
  const pendingFiles = pending.filter((e) => !e.link);
  // Every file new (a first or full scan): gitleaks reads the tree's folder itself. Whatever else is new
  // (a few files, and symlink targets, which gitleaks does not follow) is laid out in a work folder.
  const whole = pendingFiles.length > 0 && pendingFiles.length === files;
  const inWork = [...(whole ? [] : pendingFiles), ...pending.filter((e) => e.link)];
  const parts: SecretScanResult[] = [];
  if (whole) parts.push(await scanRepository(await tree.dir, scanOpts));
  if (inWork.length > 0) {
    // Beside the exports (same file system): the pending files are hard links, not copies.
    fs.mkdirSync(path.join(opts.cacheDir, "scans"), { recursive: true });
    const work = fs.mkdtempSync(path.join(opts.cacheDir, "scans", ".pending-"));
    try {
      if (tree.writeFiles && inWork.length <= FEW_FILES) {
        await tree.writeFiles(inWork, work);
      } else {
        linkFiles(await tree.dir, work, inWork);
      }
      // The tree's ignore file applies to these files as it does in a full scan.
      if (ignoreFile !== undefined && !fs.existsSync(path.join(work, ".gitleaksignore"))) fs.writeFileSync(path.join(work, ".gitleaksignore"), ignoreFile);
      parts.push(await scanRepository(work, scanOpts));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  const scannedPath = await tree.dir;
  const result: SecretScanResult =
    parts.length === 0
      ? { hasSecrets: false, findings: [], redacted: true, tool: "gitleaks", toolVersion: version, durationMs: 0, scannedPath, configPath: rulesPath, ignoreInlineAllow, cached: true }
      : { ...parts[0], scannedPath, findings: parts.flatMap((r) => r.findings), hasSecrets: parts.some((r) => r.hasSecrets), durationMs: parts.reduce((t, r) => t + r.durationMs, 0) };
  if (!result.hasSecrets) writeRecord(recordFile, advanceRecord(record, entries));
  return { ...result, scannedFiles: pending.length, totalFiles: entries.length, full };
}

/**
 * Hard-links (or copies, across file systems) the pending files into `work` under their paths; a
 * symlink's target is written as a file's text.
 */
function linkFiles(treeDir: string, work: string, pending: TreeEntry[]): void {
  for (const e of pending) {
    const to = fsPath(work, e.path);
    const slash = e.path.lastIndexOf("/");
    if (slash > 0) fs.mkdirSync(fsPath(work, e.path.slice(0, slash)), { recursive: true });
    if (e.link) {
      fs.writeFileSync(to, fs.readlinkSync(fsPath(treeDir, e.path), { encoding: "buffer" }), { flag: "wx" });
      continue;
    }
    try {
      fs.linkSync(fsPath(treeDir, e.path), to);
    } catch {
      fs.copyFileSync(fsPath(treeDir, e.path), to, fs.constants.COPYFILE_EXCL);
    }
  }
}
