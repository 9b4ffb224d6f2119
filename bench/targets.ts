/** The targets of issue 23 checked against a run's rows: each measured ratio beside its limit (pure). */
import type { Row } from "./report";

/** One target as it applies to one row. */
export interface TargetCheck {
  target: string;
  load: string;
  vms: number;
  /** The measured ratio (undefined: a case it needs was not measured). */
  ratio: number | undefined;
  limit: number;
  met: boolean;
}

/** Preview limits by fleet size (issue 23: 3/16/64/128 VMs). */
const PREVIEW_LIMITS: Record<number, number> = { 3: 1.3, 16: 1.6, 64: 2, 128: 2.5 };

const ratioOf = (row: Row, name: string) => {
  const ms = row.cases[name];
  return typeof ms === "number" ? ms / row.baselineMs : undefined;
};

/** Every target that applies to `row`, with its ratio. */
export function checkRow(row: Row): TargetCheck[] {
  const out: TargetCheck[] = [];
  const add = (target: string, ratio: number | undefined, limit: number) => {
    out.push({ target, load: row.load, vms: row.vms, ratio, limit, met: ratio !== undefined && ratio <= limit });
  };
  const each = (prefix: string, limit: number, target: string) => {
    for (const name of Object.keys(row.cases).filter((c) => c.startsWith(prefix))) add(`${target}: ${name}`, ratioOf(row, name), limit);
  };
  if (row.group === "no-change sync") each("repo-sync CLI", 1.3, "no-change sync <= 1.3x bare rsync");
  if (row.group === "initial sync") each("repo-sync CLI", 1.2, "initial sync <= 1.2x bare rsync");
  if (row.group === "no-change preview" && PREVIEW_LIMITS[row.vms]) each("pulumi preview", PREVIEW_LIMITS[row.vms], `preview of ${row.vms} VMs <= ${PREVIEW_LIMITS[row.vms]}x the engine floor`);
  if (row.group === "one-line commit (deploy loop)") {
    const up = row.cases["pulumi up"];
    const floor = row.cases["engine floor (no-change up)"];
    const cli = row.cases["repo-sync CLI"];
    const above = typeof up === "number" && typeof floor === "number" && typeof cli === "number" ? (up - floor) / cli : undefined;
    if ("pulumi up" in row.cases) add("pulumi up minus its engine floor <= 1.3x the CLI", above, 1.3);
    if ("repo-sync CLI (alert-only)" in row.cases) add("alert-only deploy <= 1.5x bare rsync", ratioOf(row, "repo-sync CLI (alert-only)"), 1.5);
  }
  return out;
}

/** One line per check, as the bench prints them while it runs. */
export function describeCheck(c: TargetCheck): string {
  const r = c.ratio === undefined ? "n/a" : `${c.ratio.toFixed(2)}x`;
  return `${c.target} (${c.load}, ${c.vms} VMs): ${r} ${c.met ? "met" : "MISSED"}`;
}

/** The markdown table of every check of a run. */
export function renderTargets(rows: Row[]): string[] {
  const checks = rows.flatMap(checkRow);
  if (checks.length === 0) return [];
  return [
    "## Targets (issue 23)", "",
    "| target | load | VMs | ratio | limit | status |", "|---|---|---|---|---|---|",
    ...checks.map((c) => `| ${c.target} | ${c.load} | ${c.vms} | ${c.ratio === undefined ? "n/a" : `${c.ratio.toFixed(2)}x`} | ${c.limit}x | ${c.met ? "met" : "missed"} |`),
    "",
  ];
}
