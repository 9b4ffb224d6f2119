/** Helpers shared by the end-to-end tests: reading `pulumi preview --json` and a VM's marker. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Fleet } from "../../tools/fleet/fleet";

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { inputs?: Record<string, unknown> };
  newState?: { inputs?: Record<string, unknown> };
}
/** The document `pulumi preview --json` prints. */
export interface PreviewJson {
  steps: PreviewStep[];
  changeSummary: Record<string, number>;
  diagnostics?: Array<{ message: string; severity: string; urn?: string }>;
}

/** A VM's `.sync_rev` content, or undefined when it has none. */
export function syncRev(fleet: Fleet, id: string): string | undefined {
  const p = path.join(fleet.vm(id).targetPath, ".sync_rev");
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined;
}

/** Input keys whose values differ between the old and new state of a step (the preview's diff). */
export function changedInputs(step: PreviewStep | undefined): string[] {
  const o = step?.oldState?.inputs ?? {};
  const n = step?.newState?.inputs ?? {};
  return [...new Set([...Object.keys(o), ...Object.keys(n)])].filter((k) => k !== "__provider" && JSON.stringify(o[k]) !== JSON.stringify(n[k])).sort();
}

/** The steps of a preview on post-sync hooks that do something, as `<name> <op>`, sorted. */
export function hookSteps(preview: PreviewJson): string[] {
  return preview.steps.filter((s) => s.urn.includes("command:remote:Command::") && s.op !== "same").map((s) => `${s.urn.split("::").pop()} ${s.op}`).sort();
}

/** "vm02" -> its step in a preview. */
export function stepFor(preview: PreviewJson, vm: string) {
  return preview.steps.find((s) => s.urn.endsWith(`::${vm}`));
}

/**
 * The last `Diagnostics:` block of a pulumi run's text output (an `up` prints the preview's, then the
 * update's), by resource header (`pulumi-nodejs:dynamic/repo-sync:RepoSyncTarget (vm02)`): each
 * resource's lines, indentation removed.
 */
export function diagnosticsByResource(stdout: string): Record<string, string> {
  const blocks = stdout.split(/^Diagnostics:\n/m);
  const last = blocks.length > 1 ? blocks[blocks.length - 1] : "";
  const out: Record<string, string> = {};
  let current: string | undefined;
  for (const line of last.split("\n")) {
    const header = /^ {2}(\S.*) \((.+)\):$/.exec(line);
    if (header) {
      current = `${header[1]} (${header[2]})`;
      out[current] = "";
    } else if (current && line.startsWith("    ")) {
      out[current] += `${line.slice(4)}\n`;
    } else if (line !== "") {
      current = undefined; // the block ended (Outputs:, Resources:...)
    }
  }
  return out;
}
