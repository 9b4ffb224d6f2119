/**
 * The no-change preview (and up) curve over fleet sizes, against the engine floor of the same number
 * of do-nothing dynamic resources (bench/floor). A small real tree, so that the curve shows the per-VM
 * cost of the engine and the probes, not of the tree walk. Each size is timed twice over:
 *   cold: no kept SSH connection (this fleet's masters closed before each run): every VM's handshake;
 *   warm: within the persist time of the run before (REPO_SYNC_SSH_PERSIST_S, lib/remote/sshMaster.ts),
 *         as a preview right after another one, or an up right after its preview.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import type { Fleet } from "../tools/fleet/fleet";
import { fleetConfig } from "../tools/fleet/fleetConfig";
import type { SourceRepo } from "../tools/fleet/sourceRepo";
import { programProject, PROJECT_ROOT, projectFromFixture, PulumiProject } from "../tools/pulumiCli";
import { closeKeptMasters } from "./keptMasters";
import type { Row } from "./report";
import { measure, must, timed } from "./timing";

/** What the curve needs. */
export interface CurveSetup {
  fleet: Fleet;
  repo: SourceRepo;
  load: string;
  work: string;
  runs: number;
  previewSizes: number[];
  upSizes: number[];
  /** Called with each row as soon as it is measured (the bench prints its ratios). */
  onRow: (row: Row) => void;
}

/** A floor project (bench/floor) of `n` resources, up once. */
export async function floorProject(n: number): Promise<PulumiProject> {
  const floor = projectFromFixture(path.join(PROJECT_ROOT, "bench", "floor"));
  await floor.init();
  await floor.ok(["config", "set", "count", String(n)]);
  await floor.ok(["up", "--yes", "--skip-preview"], { timeoutMs: 900_000 });
  return floor;
}

/** `pulumi <args>` in a project, timed; fails the bench when it fails. */
function pulumi(p: PulumiProject, args: string[], what: string) {
  return () => must(timed("pulumi", [...args, "--non-interactive"], { cwd: p.dir, env: p.env }), what);
}

/** Measures the curve; returns its rows (one per size and command). */
export async function measurePreviewCurve(s: CurveSetup): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of s.previewSizes) {
    const cfgPath = path.join(s.work, `cfg-p${n}.yml`);
    fs.writeFileSync(cfgPath, stringify(fleetConfig(s.fleet, { repoPath: s.repo.path, repository: { push_targets: s.fleet.vms.slice(0, n).map((v) => v.id), adopt_existing: true } })));
    const project = await programProject(cfgPath);
    const floor = await floorProject(n);
    try {
      await project.ok(["config", "set", "repo-sync:pull", "false"]);
      await project.ok(["up", "--yes", "--skip-preview"], { timeoutMs: 900_000 });
      const cold = () => closeKeptMasters(cfgPath).then(() => undefined);
      const none = () => undefined;
      const preview = ["preview", "--expect-no-changes"];
      const floorMs = await measure(s.runs, none, pulumi(floor, preview, "floor preview"));
      const coldMs = await measure(s.runs, cold, pulumi(project, preview, "preview"));
      const warmMs = await measure(s.runs, none, pulumi(project, preview, "preview"));
      const row: Row = { group: "no-change preview", load: s.load, vms: n, baseline: "engine floor", baselineMs: floorMs, cases: { "pulumi preview (cold)": coldMs, "pulumi preview (warm)": warmMs } };
      rows.push(row);
      s.onRow(row);
      if (s.upSizes.includes(n)) {
        const up = ["up", "--yes", "--skip-preview"];
        const upRow: Row = {
          group: "no-change up", load: s.load, vms: n, baseline: "engine floor",
          baselineMs: await measure(s.runs, none, pulumi(floor, up, "floor up")),
          cases: { "pulumi up (cold)": await measure(s.runs, cold, pulumi(project, up, "up")), "pulumi up (warm)": await measure(s.runs, none, pulumi(project, up, "up")) },
        };
        rows.push(upRow);
        s.onRow(upRow);
      }
    } finally {
      await closeKeptMasters(cfgPath);
      project.dispose();
      floor.dispose();
    }
  }
  return rows;
}
