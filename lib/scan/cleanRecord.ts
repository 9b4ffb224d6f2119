/**
 * The record of what gitleaks found in each (path, content id) pair it read, where the content id is
 * git's blob hash: nothing (the pair is clean), or its findings, as the gate reports them (file, line,
 * rule, fingerprint: no secret material, since gitleaks redacts and its `Secret`/`Match` are never
 * read). A pair's verdict under one scan identity (rules, gitleaks version, options,
 * `.gitleaksignore`) stays its verdict under it, since gitleaks judges each file by its path and
 * content alone, and a directory scan's fingerprint is `path:rule:line` (no commit, no folder). The
 * record keeps the pairs of the last few trees scanned (generations), so it never grows beyond a few
 * trees' worth of lines. One tab-separated file per repository and identity, private to its user.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Finding } from "./gitleaksReport";
import { displayPath, type TreeEntry } from "../source/treeListing";

export type { TreeEntry } from "../source/treeListing";

/** Trees whose pairs are kept (the current one and three before it). */
export const KEEP_GENERATIONS = 4;

/** What the record knows of one pair. */
export interface PairVerdict {
  /** The last tree (generation) that held the pair. */
  gen: number;
  /** What gitleaks found in it; empty: clean. */
  findings: Finding[];
}

/** Pairs scanned before, by {@link pairKey}. */
export type ScanRecord = Map<string, PairVerdict>;

/** The record's key for one pair. */
export function pairKey(e: TreeEntry): string {
  return `${e.id}\t${e.path}`;
}

/** The findings of a record line, or undefined when they are not exactly what {@link writeRecord} writes. */
function parseFindings(text: string | undefined): Finding[] | undefined {
  if (text === undefined) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc) || doc.length === 0) return undefined;
  const out: Finding[] = [];
  for (const f of doc as unknown[]) {
    const r = (f ?? {}) as Record<string, unknown>;
    if (typeof r.file !== "string" || typeof r.rule !== "string" || typeof r.fingerprint !== "string" || !Number.isSafeInteger(r.line)) return undefined;
    out.push({ file: r.file, line: r.line as number, rule: r.rule, fingerprint: r.fingerprint });
  }
  return out;
}

/**
 * Parses the record file (pure): `generation<TAB>id<TAB>"path"[<TAB>findings]` lines, the path
 * JSON-quoted (git paths may hold tabs and newlines), the findings a JSON array (a clean pair has
 * none); anything else is skipped, so a damaged record only rescans more.
 */
export function parseRecord(text: string): ScanRecord {
  const out: ScanRecord = new Map();
  for (const line of text.split("\n")) {
    // JSON never holds a raw tab: the columns split cleanly.
    const cols = line.split("\t");
    if (cols.length < 3 || cols.length > 4 || !/^\d+$/.test(cols[0]) || !/^[0-9a-f]{40,64}$/.test(cols[1]) || !/^".*"$/.test(cols[2])) continue;
    let p: unknown;
    try {
      p = JSON.parse(cols[2]);
    } catch {
      continue;
    }
    const findings = parseFindings(cols[3]);
    if (typeof p === "string" && findings) out.set(pairKey({ id: cols[1], path: p }), { gen: Number(cols[0]), findings });
  }
  return out;
}

/**
 * The findings of one scan, by the pair each belongs to (pure), `scanned` being the pairs that scan
 * read. A finding names its file as gitleaks reports it (a name that is not UTF-8 reads as U+FFFD;
 * `archive.zip!inner/file` inside an archive): each must name exactly one scanned pair, else the
 * answer is undefined, and nothing of the scan is remembered (a guess could pin a finding on the
 * wrong pair, or call a pair clean that is not).
 */
export function findingsByPair(findings: Finding[], scanned: TreeEntry[]): Map<string, Finding[]> | undefined {
  const byName = new Map<string, TreeEntry[]>();
  for (const e of scanned) {
    const name = displayPath(e.path);
    byName.set(name, [...(byName.get(name) ?? []), e]);
  }
  const out = new Map<string, Finding[]>();
  for (const f of findings) {
    // gitleaks (Go) prints each byte that is not UTF-8 as one U+FFFD, displayPath a cut-off sequence
    // as one: `a\xe2\x82` is reported as `a\ufffd\ufffd`, which is how `a\xff\xff` reads here. Such a
    // name may stand for a file other than the one it reads as: never pinned on a pair.
    if (f.file.includes("\ufffd")) return undefined;
    const candidates = [...(byName.get(f.file) ?? [])];
    for (let i = f.file.indexOf("!"); i > 0; i = f.file.indexOf("!", i + 1)) candidates.push(...(byName.get(f.file.slice(0, i)) ?? []));
    if (candidates.length !== 1) return undefined;
    const key = pairKey(candidates[0]);
    out.set(key, [...(out.get(key) ?? []), f]);
  }
  return out;
}

/**
 * The record after a tree was scanned (pure): its pairs get a new generation, each with its findings
 * (`found` for the pairs just scanned, the record's for the others), and pairs not used by the last
 * {@link KEEP_GENERATIONS} trees are dropped.
 */
export function advanceRecord(record: ScanRecord, tree: TreeEntry[], found: ReadonlyMap<string, Finding[]> = new Map()): ScanRecord {
  let last = 0;
  for (const v of record.values()) last = Math.max(last, v.gen);
  const gen = last + 1;
  const out: ScanRecord = new Map();
  for (const [k, v] of record) if (v.gen > gen - KEEP_GENERATIONS) out.set(k, v);
  for (const e of tree) {
    const k = pairKey(e);
    out.set(k, { gen, findings: found.get(k) ?? record.get(k)?.findings ?? [] });
  }
  return out;
}

/**
 * Reads a record file; a missing or unreadable one is an empty record (everything gets scanned), and
 * so is one this user could not have written alone (a link, another user's, writable by others):
 * a planted record could call a secret clean.
 */
export function readRecord(file: string): ScanRecord {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const st = fs.fstatSync(fd);
    const uid = process.getuid?.() ?? -1;
    if (!st.isFile() || st.uid !== uid || (st.mode & 0o022) !== 0) return new Map();
    return parseRecord(fs.readFileSync(fd, "utf8"));
  } catch {
    return new Map();
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes a record atomically, readable by this user only (a concurrent writer's record is replaced whole, never mixed). */
export function writeRecord(file: string, record: ScanRecord): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const lines: string[] = [];
  for (const [k, v] of record) {
    const tab = k.indexOf("\t");
    const findings = v.findings.map((f) => ({ file: f.file, line: f.line, rule: f.rule, fingerprint: f.fingerprint }));
    lines.push(`${v.gen}\t${k.slice(0, tab)}\t${JSON.stringify(k.slice(tab + 1))}${findings.length > 0 ? `\t${JSON.stringify(findings)}` : ""}`);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, lines.join("\n") + "\n", { flag: "wx", mode: 0o600 });
  fs.renameSync(tmp, file);
}
