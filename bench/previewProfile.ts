/**
 * Where a no-change `pulumi preview` of N VMs spends its time: the engine floor and repo-sync's
 * preview side by side, the latter with a spawn timeline (lib/timeline.ts) summarised per phase.
 *
 *   node dist/bench/previewProfile.js N [RUNS] [FIRST_ADDRESS]   (default 3 runs, fleet from 127.0.1.2)
 *
 * Prints one JSON document: medians of the floor and the preview, and the timeline of the last run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { startFleet } from "../tools/fleet/fleet";
import { fleetConfig } from "../tools/fleet/fleetConfig";
import { programProject, PROJECT_ROOT, projectFromFixture, PulumiProject } from "../tools/pulumiCli";
import { repoFromTree } from "./workLoads";
import { summarizeTimeline, TimelineEvent } from "./timelineSummary";
import { median, must, timed } from "./timing";

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 16);
  const runs = Number(process.argv[3] ?? 3);
  const firstAddress = process.argv[4] ?? "127.0.1.2";
  const extraArgs = (process.env.PREVIEW_ARGS ?? "").split(" ").filter(Boolean);
  const fleet = await startFleet({ count: n, firstAddress });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-pprof-"));
  const repo = repoFromTree(path.join(PROJECT_ROOT, "node_modules", "yaml"));
  const projects: PulumiProject[] = [];
  try {
    const cfgPath = path.join(work, "cfg.yml");
    fs.writeFileSync(cfgPath, stringify(fleetConfig(fleet, { repoPath: repo.path, repository: { push_targets: fleet.vms.map((v) => v.id), adopt_existing: true } })));
    const project = await programProject(cfgPath);
    const floor = projectFromFixture(path.join(PROJECT_ROOT, "bench", "floor"));
    projects.push(project, floor);
    await project.ok(["config", "set", "repo-sync:pull", "false"]);
    await project.ok(["up", "--yes", "--skip-preview"], { timeoutMs: 900_000 });
    await floor.init();
    await floor.ok(["config", "set", "count", String(n)]);
    await floor.ok(["up", "--yes", "--skip-preview"]);
    const floorMs: number[] = [];
    const oursMs: number[] = [];
    let events: TimelineEvent[] = [];
    let t0 = 0;
    for (let i = 0; i < runs; i++) {
      floorMs.push((await must(timed("pulumi", ["preview", "--non-interactive", "--expect-no-changes", ...extraArgs], { cwd: floor.dir, env: floor.env }), "floor preview")).ms);
      const file = path.join(work, `timeline-${i}.jsonl`);
      t0 = performance.timeOrigin + performance.now();
      oursMs.push((await must(timed("pulumi", ["preview", "--non-interactive", "--expect-no-changes", ...extraArgs], { cwd: project.dir, env: { ...project.env, REPO_SYNC_TIMELINE: file } }), "preview")).ms);
      events = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as TimelineEvent);
      // KEEP_TIMELINE=<file>: the last run's raw timeline, its times relative to the command's start.
      if (process.env.KEEP_TIMELINE) fs.writeFileSync(process.env.KEEP_TIMELINE, events.map((e) => JSON.stringify({ ...e, t: Math.round(e.t - t0) })).join("\n") + "\n");
    }
    const floorMedian = median(floorMs);
    const oursMedian = median(oursMs);
    process.stdout.write(JSON.stringify({ vms: n, load: fs.readFileSync("/proc/loadavg", "utf8").trim(), floorMs: floorMs.map(Math.round), previewMs: oursMs.map(Math.round), ratio: +(oursMedian / floorMedian).toFixed(2), lastRun: summarizeTimeline(events, t0) }, null, 2) + "\n");
  } finally {
    for (const p of projects) p.dispose();
    await fleet.stop();
    fs.rmSync(repo.path, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`previewProfile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
