/**
 * Where a deploy-loop `pulumi up` spends the time above its engine floor, beside the CLI doing the same
 * deploy: each round makes a one-line commit and deploys it with the CLI, then another one with
 * `pulumi up --skip-preview` (both cold: this fleet's kept SSH masters closed first), then times the
 * floor's no-change up of as many do-nothing resources. Both deploys run with the spawn timeline on.
 *
 *   node dist/bench/upProfile.js VMS [RUNS] [TREE] [FIRST_ADDRESS]   (default 3 VMs, 3 runs, node_modules/@opentelemetry)
 *
 * Prints one JSON document: every time, the medians' ratio (up - floor) / CLI, and the last round's
 * timelines (the CLI's and the up's: program, provider, each connection, each program spawned).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { cacheDir } from "../lib/paths";
import { scanRepository } from "../lib/scan/scanRepository";
import { exportCommitTree } from "../lib/source/exportTree";
import { startFleet } from "../tools/fleet/fleet";
import { fleetConfig } from "../tools/fleet/fleetConfig";
import { programProject, PROJECT_ROOT, PulumiProject } from "../tools/pulumiCli";
import { closeKeptMasters } from "./keptMasters";
import { floorProject } from "./previewCurve";
import { summarizeTimeline, TimelineEvent } from "./timelineSummary";
import { median, must, timed } from "./timing";
import { repoFromTree } from "./workLoads";

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 3);
  const runs = Number(process.argv[3] ?? 3);
  const tree = process.argv[4] ?? path.join(PROJECT_ROOT, "node_modules", "@opentelemetry");
  const firstAddress = process.argv[5] ?? "127.0.1.2";
  const fleet = await startFleet({ count: n, firstAddress });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-upprof-"));
  const repo = repoFromTree(tree);
  // A real tree's false positives (example keys in docs) accepted the documented way, as the bench does.
  const found = await scanRepository(await exportCommitTree(repo.path, repo.head(), cacheDir()), {});
  if (found.hasSecrets) repo.commit({ ".gitleaksignore": found.findings.map((f) => f.fingerprint).join("\n") + "\n" }, "accept false positives");
  const projects: PulumiProject[] = [];
  try {
    const cfgPath = path.join(work, "cfg.yml");
    fs.writeFileSync(cfgPath, stringify(fleetConfig(fleet, { repoPath: repo.path, repository: { push_targets: fleet.vms.map((v) => v.id), parallelism: 64, adopt_existing: true } })));
    const cli = path.join(PROJECT_ROOT, "bin", "repo-sync");
    await must(timed(cli, ["sync", "--config", cfgPath, "--no-pull"]), "first sync");
    const project = await programProject(cfgPath);
    const floor = await floorProject(n);
    projects.push(project, floor);
    await project.ok(["config", "set", "repo-sync:pull", "false"]);
    await project.ok(["up", "--yes", "--skip-preview"], { timeoutMs: 900_000 });
    let counter = 0;
    const commit = () => repo.commit({ "deploy-loop.txt": `deploy ${++counter} at ${Date.now()}\n` }, `deploy ${counter}`);
    const timelines: Record<string, Record<string, unknown>> = {};
    const timedWithTimeline = async (label: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }) => {
      await closeKeptMasters(cfgPath);
      commit();
      const file = path.join(work, `timeline-${label}.jsonl`);
      fs.rmSync(file, { force: true });
      const t0 = performance.timeOrigin + performance.now();
      const ms = (await must(timed(cmd, args, { ...opts, env: { ...(opts.env ?? process.env), REPO_SYNC_TIMELINE: file } }), label)).ms;
      const events = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as TimelineEvent);
      timelines[label] = summarizeTimeline(events, t0);
      if (process.env.KEEP_TIMELINE) fs.writeFileSync(`${process.env.KEEP_TIMELINE}-${label}.jsonl`, events.map((e) => JSON.stringify({ ...e, t: Math.round(e.t - t0) })).join("\n") + "\n");
      return ms;
    };
    const cliMs: number[] = [];
    const upMs: number[] = [];
    const floorMs: number[] = [];
    // VARIANTS="name:K=V,K=V;..." times each variant's up beside the default one (A/B in one run).
    const variants = (process.env.VARIANTS ?? "").split(";").filter(Boolean).map((v) => {
      const [name, kvs = ""] = v.split(":");
      return { name, env: Object.fromEntries(kvs.split(",").filter(Boolean).map((kv) => kv.split("="))) as NodeJS.ProcessEnv, ms: [] as number[] };
    });
    for (let i = 0; i < runs; i++) {
      for (const v of variants) v.ms.push(await timedWithTimeline(`up-${v.name}`, "pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: project.dir, env: { ...project.env, ...v.env } }));
      cliMs.push(await timedWithTimeline("cli", cli, ["sync", "--config", cfgPath, "--no-pull"], {}));
      upMs.push(await timedWithTimeline("up", "pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: project.dir, env: project.env }));
      floorMs.push((await must(timed("pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: floor.dir, env: floor.env }), "floor up")).ms);
    }
    const [c, u, f] = [median(cliMs), median(upMs), median(floorMs)];
    process.stdout.write(JSON.stringify({
      vms: n, tree, load: fs.readFileSync("/proc/loadavg", "utf8").trim(),
      cliMs: cliMs.map(Math.round), upMs: upMs.map(Math.round), floorUpMs: floorMs.map(Math.round),
      aboveFloorOverCli: +((u - f) / c).toFixed(2),
      variants: Object.fromEntries(variants.map((v) => [v.name, { ms: v.ms.map(Math.round), aboveFloorOverCli: +((median(v.ms) - f) / c).toFixed(2) }])),
      lastRound: timelines,
    }, null, 2) + "\n");
  } finally {
    await closeKeptMasters(path.join(work, "cfg.yml")).catch(() => undefined);
    for (const p of projects) p.dispose();
    await fleet.stop();
    fs.rmSync(repo.path, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`upProfile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
