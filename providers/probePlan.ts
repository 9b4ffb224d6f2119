/**
 * The engine calls a provider's check() for one resource at a time, so probing each VM inside its own
 * check makes `pulumi preview` cost the sum of every VM's SSH round trips. The program therefore
 * writes a probe plan (every target's inputs) before it registers the resources; the provider's first
 * check probes all planned targets at once (bounded), and each check then takes its own result.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TargetInputs } from "./inputs";

/** Targets probed together in one batch. */
export const PROBE_PARALLELISM = 16;

/** Where the plan for a project's stack lives (stable across runs: no diff noise in state). */
export function probePlanPath(cacheDir: string, projectDir: string, stack: string): string {
  const id = createHash("sha256").update(`${path.resolve(projectDir)}\0${stack}`).digest("hex").slice(0, 16);
  return path.join(cacheDir, "probe-plans", `${id}.json`);
}

/** The identity of one probe: the same target at the same commit, trusted by the same host key. */
export function probeKey(i: Pick<TargetInputs, "vm" | "host" | "port" | "path" | "commit" | "hostKey">): string {
  return [i.vm, i.host, i.port, i.path, i.commit, ...(i.hostKey !== undefined ? [i.hostKey] : [])].join("|");
}

/** Writes the plan atomically. */
export function writeProbePlan(file: string, targets: TargetInputs[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ written: new Date().toISOString(), targets }));
  fs.renameSync(`${file}.tmp`, file);
}

/** Reads a plan; a missing or broken one is an empty plan (each check then probes on its own). */
export function readProbePlan(file: string): TargetInputs[] {
  try {
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { targets?: TargetInputs[] };
    return Array.isArray(doc.targets) ? doc.targets : [];
  } catch {
    return [];
  }
}
