/**
 * The secret gate at the cost of what changed: gitleaks runs only over the (path, content) pairs of a
 * tree that no earlier scan under the same identity read (see cleanRecord.ts). Those files are
 * materialized under their own relative paths (rules and allowlists look at paths), beside the
 * tree's `.gitleaksignore`, and scanned as a folder: a finding names the same file, line and
 * fingerprint a full scan prints. A pair read before is clean, or brings back the findings it had
 * (reported again, and blocking again, without a scan), so a tree with findings nobody accepted yet
 * costs what changed too (`block_on_secrets: false`). Anything that could change a verdict (rules,
 * gitleaks version, options, `.gitleaksignore`) selects another record, which starts empty: a full scan.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fsPath } from "../source/treeListing";
import { ensurePrivateDir } from "../paths";
import { advanceRecord, findingsByPair, pairKey, readRecord, ScanRecord, TreeEntry, writeRecord } from "./cleanRecord";
import type { Finding } from "./gitleaksReport";
import { gitleaksVersion, readIgnoreFile, readRules, ScanOptions, scanIdentity, scanRepository, SecretScanResult } from "./scanRepository";

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
  /** Files gitleaks read in this run (all of them for a full scan, 0 when nothing was new); the others' verdicts were remembered. */
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
 * Scans `tree`, skipping (path, content) pairs scanned before, whose findings (if any) are reported
 * from the record. `recordId` names the repository.
 */
export async function scanTreeIncremental(tree: ScanTree, recordId: string, opts: IncrementalScanOptions): Promise<IncrementalScanResult> {
  const bin = opts.gitleaksBin ?? "gitleaks";
  // The record decides what is not scanned: only a folder no other user can write is trusted.
  const cacheDir = ensurePrivateDir(opts.cacheDir);
  const version = await gitleaksVersion(bin, cacheDir);
  const { rulesPath, rulesText } = readRules(opts.configPath, cacheDir);
  const ignoreInlineAllow = opts.ignoreInlineAllow === true;
  const { entries, ignoreFile } = tree;
  const key = scanIdentity(rulesText, version, ignoreInlineAllow, ignoreFile);
  const recordFile = path.join(cacheDir, "scans", "clean", `${recordId}-${key}.tsv`);
  // gitleaks reads a `.gitleaksignore` that is a symlink through the link: what it holds is not in the
  // identity (the tree's text is the link's target), so no verdict is kept or reused for such a tree.
  const ignoreLink = entries.some((e) => e.link && e.path === IGNORE_FILE);
  const record: ScanRecord = opts.full || ignoreLink ? new Map() : readRecord(recordFile);
  const pending = entries.filter((e) => !record.has(pairKey(e)));
  const scanOpts = { configPath: rulesPath, ignoreInlineAllow, cacheDir, gitleaksBin: bin };

  const full = pending.length === entries.length;
  const files = entries.filter((e) => !e.link).length;
  const pendingFiles = pending.filter((e) => !e.link);
  // Every file new (a first or full scan): gitleaks reads the tree's folder itself. Whatever else is new
  // (a few files, and symlink targets, which gitleaks does not follow) is laid out in a work folder.
  const whole = pendingFiles.length > 0 && pendingFiles.length === files;
  const inWork = [...(whole ? [] : pendingFiles), ...pending.filter((e) => e.link)];
  // Each scan with the pairs it read, so that each finding can be kept with its pair.
  const parts: Array<{ scan: SecretScanResult; read: TreeEntry[] }> = [];
  if (whole) parts.push({ scan: await scanRepository(await tree.dir, scanOpts), read: pendingFiles });
  if (inWork.length > 0) {
    // Beside the exports (same file system): the pending files are hard links, not copies.
    fs.mkdirSync(path.join(cacheDir, "scans"), { recursive: true });
    const work = fs.mkdtempSync(path.join(cacheDir, "scans", ".pending-"));
    try {
      parts.push({ scan: await scanWorkFolder(tree, inWork, work, ignoreLink, scanOpts), read: inWork });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  const scannedPath = await tree.dir;
  const remembered = entries.flatMap((e) => record.get(pairKey(e))?.findings ?? []);
  const findings = sortFindings([...remembered, ...parts.flatMap((p) => p.scan.findings)]);
  const result: SecretScanResult =
    parts.length === 0
      ? { hasSecrets: findings.length > 0, findings, redacted: true, tool: "gitleaks", toolVersion: version, durationMs: 0, scannedPath, configPath: rulesPath, ignoreInlineAllow, cached: true }
      : { ...parts[0].scan, scannedPath, findings, hasSecrets: findings.length > 0, durationMs: parts.reduce((t, p) => t + p.scan.durationMs, 0) };
  const found = parts.map((p) => findingsByPair(p.scan.findings, p.read));
  // A finding that names no single pair read leaves the record as it was: those pairs are scanned again.
  if (!ignoreLink && found.every((f) => f !== undefined)) writeRecord(recordFile, advanceRecord(record, entries, new Map(found.flatMap((f) => [...f]))));
  return { ...result, scannedFiles: pending.length, totalFiles: entries.length, full };
}

const IGNORE_FILE = ".gitleaksignore";

/** A finding in the file named `.gitleaksignore` at the top of the scanned folder (or in it, read as an archive). */
function isIgnoreFile(f: Finding): boolean {
  return f.file === IGNORE_FILE || f.file.startsWith(`${IGNORE_FILE}!`);
}

/**
 * Scans `inWork` laid out in the empty folder `work` beside the ignore file gitleaks would read at
 * the top of the tree. Findings are named as in a scan of the tree.
 */
async function scanWorkFolder(tree: ScanTree, inWork: TreeEntry[], work: string, ignoreLink: boolean, scanOpts: ScanOptions): Promise<SecretScanResult> {
  if (tree.writeFiles && inWork.length <= FEW_FILES) {
    await tree.writeFiles(inWork, work);
  } else {
    linkFiles(await tree.dir, work, inWork);
  }
  // A `.gitleaksignore` link's target is text to scan, never the ignore file: read under a free name.
  const standIn = ignoreLink ? freeName(work, inWork) : undefined;
  if (standIn) fs.renameSync(path.join(work, IGNORE_FILE), path.join(work, standIn));
  // The ignore file gitleaks reads in the tree (through a link, when it is one) applies here too.
  const ignore = ignoreLink ? readThrough(path.join(await tree.dir, IGNORE_FILE)) : tree.ignoreFile;
  const copied = ignore !== undefined && !fs.existsSync(path.join(work, IGNORE_FILE));
  if (copied) fs.writeFileSync(path.join(work, IGNORE_FILE), ignore);
  const scan = await scanRepository(work, scanOpts);
  const accepted = new Set((ignore ?? "").split("\n").map((l) => l.trim()));
  const findings: Finding[] = [];
  for (const f of scan.findings) {
    // gitleaks reads the copy as a file too, but it is no pair of this scan: the tree's own
    // `.gitleaksignore` was scanned before (its findings come from the record), or in the tree's folder.
    if (copied && isIgnoreFile(f)) continue;
    if (standIn === undefined || f.file !== standIn) {
      findings.push(f);
      continue;
    }
    const fingerprint = `${IGNORE_FILE}:${f.rule}:${f.line}`;
    if (!accepted.has(fingerprint)) findings.push({ ...f, file: IGNORE_FILE, fingerprint });
  }
  return { ...scan, findings, hasSecrets: findings.length > 0 };
}

/** A top-level name that no entry of the work folder uses. */
function freeName(work: string, inWork: TreeEntry[]): string {
  const taken = new Set(inWork.map((e) => e.path.split("/")[0]));
  let n = 0;
  while (taken.has(`${IGNORE_FILE}.link-${n}`) || fs.existsSync(path.join(work, `${IGNORE_FILE}.link-${n}`))) n++;
  return `${IGNORE_FILE}.link-${n}`;
}

/** The text of the regular file `p` leads to (links followed, as gitleaks opens its ignore file), or undefined. */
function readThrough(p: string): string | undefined {
  try {
    return fs.statSync(p).isFile() ? fs.readFileSync(p, "utf8") : undefined;
  } catch {
    return undefined;
  }
}

/** Findings in a stable order (gitleaks reports them in the order its workers finish). */
function sortFindings(findings: Finding[]): Finding[] {
  const text = (f: Finding) => `${f.file}\0${String(f.line).padStart(10, "0")}\0${f.rule}\0${f.fingerprint}`;
  return findings.map((f) => ({ f, t: text(f) })).sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0)).map((x) => x.f);
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
