/**
 * Pure parsing of gitleaks' JSON report into findings that carry no secret: file, line, rule and
 * fingerprint only. The `Secret` and `Match` fields are never read.
 *
 * gitleaks (v8.30.1) builds a directory scan's fingerprint as `File:RuleID:StartLine`, with `File`
 * exactly as it walked it, and matches `.gitleaksignore` lines against that same string. So the
 * fingerprint only works in `.gitleaksignore` when the scan ran from inside the tree on `.` (what
 * scanRepository does): then `File` is relative to the top of the tree, and the same line matches
 * the next export of the next commit, wherever that export lives on disk.
 */
import * as path from "node:path";

/** One finding, safe to log: no secret material. */
export interface Finding {
  /** Path relative to the scanned tree (`archive.zip!inner/file` inside an archive). */
  file: string;
  line: number;
  rule: string;
  /**
   * gitleaks' fingerprint, `file:rule:line` with `file` relative to the top of the scanned tree: the
   * exact line to put in that tree's `.gitleaksignore` to accept a false positive.
   */
  fingerprint: string;
}

/**
 * Parses the report (a JSON array). `root` is the scanned folder: a `File` that gitleaks reports
 * absolute (a scan not run on `.`) is made relative to it, and the fingerprint rebuilt in the form a
 * scan of `root` run on `.` prints and matches.
 */
export function parseGitleaksReport(json: string, root: string): Finding[] {
  const trimmed = json.trim();
  if (trimmed === "") return [];
  const data: unknown = JSON.parse(trimmed);
  if (!Array.isArray(data)) throw new Error("gitleaks report is not a JSON array");
  return data.map((raw: unknown): Finding => {
    const r = (raw ?? {}) as Record<string, unknown>;
    const reported = typeof r.File === "string" ? r.File : "";
    const line = typeof r.StartLine === "number" ? r.StartLine : 0;
    const rule = typeof r.RuleID === "string" && r.RuleID !== "" ? r.RuleID : "unknown-rule";
    const fromRoot = path.isAbsolute(reported) ? path.relative(path.resolve(root), reported) : undefined;
    if (fromRoot !== undefined && fromRoot !== "" && fromRoot !== ".." && !fromRoot.startsWith(`..${path.sep}`)) {
      // An absolute fingerprint embeds where the tree was exported (a per-commit folder), so it could
      // never match twice: only the relative form is worth printing.
      return { file: fromRoot, line, rule, fingerprint: `${fromRoot}:${rule}:${line}` };
    }
    // gitleaks matches `.gitleaksignore` against its own string: pass it through untouched.
    const fingerprint = typeof r.Fingerprint === "string" && r.Fingerprint !== "" ? r.Fingerprint : `${reported}:${rule}:${line}`;
    return { file: reported.replace(/^\.\//, ""), line, rule, fingerprint };
  });
}

/**
 * One line per finding, `file:line:rule  fingerprint <fingerprint>`, sorted, at most `max` (the
 * rest counted); the fingerprint is what `.gitleaksignore` takes.
 */
export function formatFindings(findings: Finding[], max = 20): string {
  const lines = findings
    .map((f) => `${f.file}:${f.line}:${f.rule}  fingerprint ${f.fingerprint}`)
    .sort()
    .slice(0, max);
  const more = findings.length > max ? `\n    ... and ${findings.length - max} more` : "";
  return lines.map((l) => `    ${l}`).join("\n") + more;
}
