/**
 * gitleaks' global path allowlist skips files by their path alone: `secrets.bin`, `keys.pdf`, anything
 * under `node_modules/` or `vendor/github.com/`. repo-sync pushes those files all the same, so the gate
 * reads them too: each is laid out under a neutral name (its number, which no path pattern matches)
 * and scanned as it is; a finding is reported under the file's real path, and a `.gitleaksignore`
 * line `path:rule:line` for that path accepts it, as for any other file. (Real binaries stay unread:
 * gitleaks skips binary content whatever the name.)
 */
import * as fs from "node:fs";
import type { Finding } from "./gitleaksReport";
import { goUnquote } from "./skippedFolders";
import { displayPath, fsPath, type TreePath } from "../source/treeListing";

/** What gitleaks (debug level) prints for a file its walk skips by path: `... path=<value>`. */
const SKIP_FILE = / DBG skipping file: global allowlist path=(.*)$/;

/**
 * The files a debug-level `gitleaks dir` skipped by path, from its stderr (pure), as byte strings
 * relative to the scanned folder. A line that cannot be read is an error: the gate must not guess.
 */
export function parseSkippedFiles(stderr: string): TreePath[] {
  const out: TreePath[] = [];
  for (const raw of stderr.split("\n")) {
    const m = SKIP_FILE.exec(raw.replace(/\x1b\[[0-9;]*m/g, "").trimEnd());
    if (!m) continue;
    const value = m[1].startsWith('"') ? goUnquote(m[1]) : Buffer.from(m[1], "utf8").toString("latin1");
    if (value === undefined || value === "") throw new Error(`cannot read a file name in gitleaks' output: ${JSON.stringify(raw.slice(0, 200))}`);
    out.push(value.replace(/^(\.\/)+/, ""));
  }
  return out;
}

/**
 * The real files a reported name stands for (as byte strings). gitleaks logs a byte that is not UTF-8
 * as U+FFFD, so a name it reports may not exist as written: each such component is matched against
 * the folder's entries that read the same, every match kept (reading one file too many is harmless;
 * missing one is not). A name that matches nothing is an error: the gate does not guess.
 */
export function resolveReported(root: string, reported: TreePath): TreePath[] {
  if (fs.existsSync(fsPath(root, reported))) return [reported];
  let bases: TreePath[] = [""];
  for (const part of reported.split("/")) {
    const next: TreePath[] = [];
    for (const base of bases) {
      const here = base === "" ? part : `${base}/${part}`;
      if (fs.existsSync(fsPath(root, here))) {
        next.push(here);
        continue;
      }
      let names: Buffer[] = [];
      try {
        names = fs.readdirSync(base === "" ? root : fsPath(root, base), { encoding: "buffer" });
      } catch {
        continue;
      }
      for (const n of names) if (displayPath(n.toString("latin1")) === displayPath(part)) next.push(base === "" ? n.toString("latin1") : `${base}/${n.toString("latin1")}`);
    }
    bases = next;
  }
  const files = bases.filter((b) => fs.lstatSync(fsPath(root, b)).isFile());
  if (files.length === 0) throw new Error(`gitleaks skipped ${JSON.stringify(displayPath(reported))}, which names no file of ${root}`);
  return files;
}

/** The regular files below `folder` of `root` (symlinks not followed), as byte strings. */
export function filesUnder(root: string, folder: TreePath): TreePath[] {
  const out: TreePath[] = [];
  const walk = (rel: TreePath) => {
    for (const d of fs.readdirSync(fsPath(root, rel), { withFileTypes: true, encoding: "buffer" })) {
      const p = `${rel}/${d.name.toString("latin1")}`;
      if (d.isDirectory()) walk(p);
      else if (d.isFile()) out.push(p);
    }
  };
  walk(folder);
  return out;
}

/** Lays `files` of `root` out in `into` as `0`, `1`, ... (hard links, or copies across file systems). */
export function layOut(root: string, files: TreePath[], into: string): void {
  files.forEach((f, i) => {
    const to = `${into}/${i}`;
    try {
      fs.linkSync(fsPath(root, f), to);
    } catch {
      fs.copyFileSync(fsPath(root, f), to, fs.constants.COPYFILE_EXCL);
    }
  });
}

/**
 * Findings of the neutral-name scan under the files' real paths (pure); those whose real fingerprint
 * is a line of the tree's `.gitleaksignore` are accepted, as gitleaks would have.
 */
export function renameFindings(findings: Finding[], files: TreePath[], ignoreFile: string | undefined): Finding[] {
  const ignored = new Set((ignoreFile ?? "").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")));
  const out: Finding[] = [];
  for (const f of findings) {
    // `7`, or `7!inner/file` for a file inside an archive.
    const m = /^(\d+)([^]*)$/.exec(f.file);
    const real = m ? files[Number(m[1])] : undefined;
    if (!m || real === undefined) throw new Error(`gitleaks reported ${JSON.stringify(f.file)}, which is none of the files laid out for it`);
    const file = displayPath(real) + m[2];
    const fingerprint = `${file}:${f.rule}:${f.line}`;
    if (!ignored.has(fingerprint)) out.push({ ...f, file, fingerprint });
  }
  return out;
}
