/**
 * The record of what gitleaks already found clean: (path, content id) pairs, where the content id is
 * git's blob hash. A pair found clean under one scan identity (rules, gitleaks version, options,
 * `.gitleaksignore`) stays clean under it, since gitleaks judges each file by its path and content
 * alone. The record keeps the pairs of the last few trees scanned (generations), so it never grows
 * beyond a few trees' worth of lines. One tab-separated file per repository and identity.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** One file of a tree: its path (relative, `/`-separated, one char per byte: see source/treeListing.ts) and its content id. */
export interface TreeEntry {
  /** A symlink: its target is what is scanned (gitleaks itself does not follow links). */
  link?: boolean;
  path: string;
  id: string;
}

/** Trees whose pairs are kept (the current one and three before it). */
export const KEEP_GENERATIONS = 4;

/** Pairs found clean, each with the generation (tree number) that last used it. */
export type CleanRecord = Map<string, number>;

/** The record's key for one pair. */
export function pairKey(e: TreeEntry): string {
  return `${e.id}\t${e.path}`;
}

/**
 * Parses the record file (pure): `generation<TAB>id<TAB>"path"` lines, the path JSON-quoted (git
 * paths may hold tabs and newlines); anything else is skipped, so a damaged record only rescans more.
 */
export function parseRecord(text: string): CleanRecord {
  const out: CleanRecord = new Map();
  for (const line of text.split("\n")) {
    const m = /^(\d+)\t([0-9a-f]{40,64})\t(".*")$/.exec(line);
    if (!m) continue;
    let p: unknown;
    try {
      p = JSON.parse(m[3]);
    } catch {
      continue;
    }
    if (typeof p === "string") out.set(pairKey({ id: m[2], path: p }), Number(m[1]));
  }
  return out;
}

/**
 * The record after a tree was found clean (pure): its pairs get a new generation, pairs not used by
 * the last {@link KEEP_GENERATIONS} trees are dropped.
 */
export function advanceRecord(record: CleanRecord, clean: TreeEntry[]): CleanRecord {
  const gen = Math.max(0, ...record.values()) + 1;
  const out: CleanRecord = new Map();
  for (const [k, g] of record) if (g > gen - KEEP_GENERATIONS) out.set(k, g);
  for (const e of clean) out.set(pairKey(e), gen);
  return out;
}

/** Reads a record file; a missing or unreadable one is an empty record (everything gets scanned). */
export function readRecord(file: string): CleanRecord {
  try {
    return parseRecord(fs.readFileSync(file, "utf8"));
  } catch {
    return new Map();
  }
}

/** Writes a record atomically (a concurrent writer's record is replaced whole, never mixed). */
export function writeRecord(file: string, record: CleanRecord): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lines: string[] = [];
  for (const [k, g] of record) {
    const tab = k.indexOf("\t");
    lines.push(`${g}\t${k.slice(0, tab)}\t${JSON.stringify(k.slice(tab + 1))}`);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, lines.join("\n") + "\n");
  fs.renameSync(tmp, file);
}
