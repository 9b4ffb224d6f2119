/**
 * Where a no-change `pulumi preview` of N VMs spends its time: the engine floor and repo-sync's
 * preview side by side, the latter with a spawn timeline (lib/timeline.ts) summarised per phase.
 *
 *   node dist/bench/previewProfile.js N [RUNS] [FIRST_ADDRESS]   (default 3 runs, fleet from 127.0.1.2)
 *
 * Each round times the floor, a cold preview (this fleet's kept SSH masters closed first) and a warm
 * one (within the persist time of the cold one's). Prints one JSON document: every time, the ratios
 * of the medians to the floor's, and the timelines of the last round.
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
import { closeKeptMasters } from "./keptMasters";
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
    // Each round: the floor; a cold preview (no kept master: closed first); a warm one (the masters the
    // cold one left). The timeline of the last round's cold and warm previews is summarised.
    const floorMs: number[] = [];
    const coldMs: number[] = [];
    const warmMs: number[] = [];
    const timelines: Record<string, Record<string, unknown>> = {};
    const preview = async (p: PulumiProject, label: string, env: NodeJS.ProcessEnv = {}) => {
      const file = path.join(work, `timeline-${label}.jsonl`);
      fs.rmSync(file, { force: true });
      const t0 = performance.timeOrigin + performance.now();
      const ms = (await must(timed("pulumi", ["preview", "--non-interactive", "--expect-no-changes", ...extraArgs], { cwd: p.dir, env: { ...p.env, REPO_SYNC_TIMELINE: file, ...env } }), `${label} preview`)).ms;
      if (fs.existsSync(file)) {
        const events = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as TimelineEvent);
        timelines[label] = summarizeTimeline(events, t0);
        // KEEP_TIMELINE=<prefix>: the raw timeline too, its times relative to the command's start.
        if (process.env.KEEP_TIMELINE) fs.writeFileSync(`${process.env.KEEP_TIMELINE}-${label}.jsonl`, events.map((e) => JSON.stringify({ ...e, t: Math.round(e.t - t0) })).join("\n") + "\n");
      }
      return ms;
    };
    // VARIANTS="name:K=V,K=V;name2:..." times each variant's cold preview beside the default one (A/B in one run).
    // Split at the first `:` and `=` only: a value may hold more (PATH=/a:/b).
    const variants = (process.env.VARIANTS ?? "").split(";").filter(Boolean).map((v) => {
      const [name, kvs] = [v.slice(0, v.indexOf(":")), v.slice(v.indexOf(":") + 1)];
      return { name, env: Object.fromEntries(kvs.split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])) as NodeJS.ProcessEnv, ms: [] as number[] };
    });
    // The cold cases in a rotated order each round (a fixed order would favour a position); the warm
    // preview follows the default cold one, whose masters it uses.
    const colds: Array<() => Promise<void>> = [
      ...variants.map((v) => async () => {
        await closeKeptMasters(cfgPath);
        v.ms.push(await preview(project, `cold-${v.name}`, v.env));
      }),
      async () => {
        await closeKeptMasters(cfgPath);
        coldMs.push(await preview(project, "cold"));
        warmMs.push(await preview(project, "warm"));
      },
    ];
    for (let i = 0; i < runs; i++) {
      floorMs.push(await preview(floor, "floor"));
      for (let k = 0; k < colds.length; k++) await colds[(i + k) % colds.length]();
    }
    await closeKeptMasters(cfgPath);
    const f = median(floorMs);
    process.stdout.write(JSON.stringify({
      vms: n, load: fs.readFileSync("/proc/loadavg", "utf8").trim(),
      floorMs: floorMs.map(Math.round), coldMs: coldMs.map(Math.round), warmMs: warmMs.map(Math.round),
      coldRatio: +(median(coldMs) / f).toFixed(2), warmRatio: +(median(warmMs) / f).toFixed(2),
      variants: Object.fromEntries(variants.map((v) => [v.name, { ms: v.ms.map(Math.round), ratio: +(median(v.ms) / f).toFixed(2) }])),
      lastRound: timelines,
    }, null, 2) + "\n");
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
