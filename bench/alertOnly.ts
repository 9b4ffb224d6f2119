/**
 * The deploy loop's alert-only mode (issue 23): `block_on_secrets: false` on a tree whose gitleaks
 * findings nobody accepted (nothing in `.gitleaksignore`), so every run reports them and pushes anyway.
 * It gets its own repo (a clone of the load at the commit before its findings were accepted) and its own
 * target folders on the same VMs. A run that does not report every finding of the tree fails the row:
 * a column that scanned nothing, or forgot a finding, would time a gate that is not there.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { stringify } from "yaml";
import type { Fleet } from "../tools/fleet/fleet";
import { fleetConfig } from "../tools/fleet/fleetConfig";
import { SourceRepo } from "../tools/fleet/sourceRepo";

/** What the deploy loop needs for its "repo-sync CLI (alert-only)" column. */
export interface AlertOnlySetup {
  repo: SourceRepo;
  cfgPath: string;
  /** The fingerprints a full scan of the tree finds: each run must report exactly these. */
  fingerprints: string[];
}

/** A clone of `load` at its HEAD (the tree with its findings, none ignored), to be deployed alert-only. */
export function alertOnlyRepo(load: SourceRepo): SourceRepo {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-bench-alert-"));
  execFileSync("git", ["clone", "-q", "--no-tags", load.path, dir], { stdio: ["ignore", "ignore", "pipe"] });
  const repo = new SourceRepo(dir);
  repo.git("config", "user.email", "bench@repo-sync.invalid");
  repo.git("config", "user.name", "repo-sync bench");
  repo.git("config", "commit.gpgsign", "false");
  return repo;
}

/** Writes the alert-only config for the first `n` VMs: scan on, findings logged, push not blocked. */
export function writeAlertOnlyConfig(fleet: Fleet, repo: SourceRepo, n: number, file: string): string {
  const doc = fleetConfig(fleet, {
    repoPath: repo.path,
    repository: {
      push_targets: fleet.vms.slice(0, n).map((v) => v.id),
      parallelism: 64,
      adopt_existing: true,
      secret_scanning: { enabled: true, tool: "gitleaks", block_on_secrets: false },
    },
  }) as { repository: { vm_repo_paths: Record<string, string> } };
  for (const vm of Object.keys(doc.repository.vm_repo_paths)) doc.repository.vm_repo_paths[vm] += "-alert";
  fs.writeFileSync(file, stringify(doc));
  return file;
}

/**
 * Throws unless `stderr` (of one `repo-sync sync`) holds a `secrets_found` alert that did not block
 * and names exactly the fingerprints `want`.
 */
export function checkAlerted(stderr: string, want: string[], what: string): void {
  const alerts = stderr.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      const a = JSON.parse(line) as { alert?: unknown; blocked?: unknown; findings?: Array<{ fingerprint?: unknown }> };
      return a.alert === "secrets_found" ? [a] : [];
    } catch {
      return [];
    }
  });
  const fail = (why: string) => {
    throw new Error(`${what}: ${why} (alert-only mode must report all ${want.length} findings of the tree on every run)\n${stderr.slice(-2000)}`);
  };
  if (want.length === 0) fail("the tree has no gitleaks findings: this column needs a tree with findings nobody ignored");
  if (alerts.length !== 1) fail(`${alerts.length} secrets_found alerts logged, expected 1`);
  const a = alerts[0];
  if (a.blocked !== false) fail(`the alert says blocked: ${String(a.blocked)}`);
  const got = (a.findings ?? []).map((f) => String(f.fingerprint)).sort();
  const expected = [...want].sort();
  const missing = expected.filter((f) => !got.includes(f));
  const extra = got.filter((f) => !expected.includes(f));
  if (missing.length > 0 || extra.length > 0 || got.length !== expected.length) {
    fail(`${got.length} findings reported, ${expected.length} expected; missing: ${missing.slice(0, 5).join(", ")}; unexpected: ${extra.slice(0, 5).join(", ")}`);
  }
}
