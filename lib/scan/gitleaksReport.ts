/**
 * Pure parsing of gitleaks' JSON report into findings that carry no secret: file, line, rule and
 * fingerprint only. The `Secret` and `Match` fields are never read.
 */
import * as path from "node:path";

/** One finding, safe to log: no secret material. */
export interface Finding {
  /** Path relative to the scanned tree. */
  file: string;
  line: number;
  rule: string;
  /** gitleaks' fingerprint (`file:rule:line` for a directory scan), usable in `.gitleaksignore`. */
  fingerprint: string;
}

/** Parses the report (a JSON array); `root` makes file paths relative to the scanned folder. */
export function parseGitleaksReport(json: string, root: string): Finding[] {
  const trimmed = json.trim();
  if (trimmed === "") return [];
  const data: unknown = JSON.parse(trimmed);
  if (!Array.isArray(data)) throw new Error("gitleaks report is not a JSON array");
  return data.map((raw: unknown) => {
    const r = (raw ?? {}) as Record<string, unknown>;
    const abs = String(r.File ?? "");
    const rel = path.isAbsolute(abs) ? path.relative(root, abs) : abs.replace(/^\.\//, "");
    const line = typeof r.StartLine === "number" ? r.StartLine : 0;
    const rule = String(r.RuleID ?? "unknown-rule");
    const fpRaw = String(r.Fingerprint ?? `${rel}:${rule}:${line}`);
    // The fingerprint starts with the file as gitleaks saw it; report it relative like the file.
    const fingerprint = path.isAbsolute(abs) && fpRaw.startsWith(abs) ? rel + fpRaw.slice(abs.length) : fpRaw;
    return { file: rel, line, rule, fingerprint };
  });
}

/** `file:line:rule` lines for messages, sorted, at most `max` (the rest counted). */
export function formatFindings(findings: Finding[], max = 20): string {
  const lines = findings
    .map((f) => `${f.file}:${f.line}:${f.rule}`)
    .sort()
    .slice(0, max);
  const more = findings.length > max ? `\n    ... and ${findings.length - max} more` : "";
  return lines.map((l) => `    ${l}`).join("\n") + more;
}
