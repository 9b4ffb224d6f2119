/**
 * Where the deploy loop's CLI spends the time above bare rsync, in the alert-only mode beside the
 * ignore-file one: each round makes a one-line commit and deploys it with bare rsync, with
 * `repo-sync sync` (findings accepted in `.gitleaksignore`) and with `repo-sync sync` alert-only
 * (`block_on_secrets: false`, findings not ignored, each run checked to report all of them), in a
 * rotating order, each tool into its own folders on the same VMs (no settle run between them). The CLI
 * runs are cold (this fleet's kept SSH masters closed first) and run with the spawn timeline on.
 *
 *   node dist/bench/cliProfile.js [VMS] [RUNS] [TREE] [FIRST_ADDRESS]   (3 VMs, 5 runs, /usr/share/doc, 127.0.1.2)
 *
 * VARIANTS="name:K=V,K=V;name2:..." adds, per variant, bare rsync and the ignore-file CLI run with that
 * environment (e.g. a PATH whose `ssh` adds an option: an A/B on the same fleet, in the same rounds).
 * NO_CHANGE=1: no commit before a run (a cold no-change sync; no alert-only column).
 *
 * Prints one JSON document: every time with the load average beside it, the medians' ratios to bare
 * rsync, and per CLI mode the median start of every phase of its timeline (programs spawned).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { loadConfig } from "../lib/config/load";
import { cacheDir } from "../lib/paths";
import { scanRepository } from "../lib/scan/scanRepository";
import { exportCommitTree } from "../lib/source/exportTree";
import { rsyncRemoteShell } from "../lib/transfer/rsyncArgs";
import { startFleet } from "../tools/fleet/fleet";
import { fleetConfig } from "../tools/fleet/fleetConfig";
import { PROJECT_ROOT } from "../tools/pulumiCli";
import { alertOnlyRepo, checkAlerted, writeAlertOnlyConfig } from "./alertOnly";
import { closeKeptMasters } from "./keptMasters";
import { TimelineEvent } from "./timelineSummary";
import { median, must, timed } from "./timing";
import { repoFromTree } from "./workLoads";

const TIME = "/usr/bin/time";
// CLI_NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=DIR`) is given to the measured CLI runs only.
const cliNodeOptions = process.env.CLI_NODE_OPTIONS ? { NODE_OPTIONS: process.env.CLI_NODE_OPTIONS } : {};
const loadAvg = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** Each program run as `prog start+ms` (ms from the command's start), every other mark with its time, the first and last event. */
function spawns(events: TimelineEvent[], t0: number): string[] {
  const r = (x: number) => Math.round(x - t0);
  const out = [`first event ${r(Math.min(...events.map((e) => e.t)))}`];
  for (const e of events) {
    if (e.ev === "exit") out.push(`${e.prog} ${r(e.t - (e.ms ?? 0))}+${e.ms}`);
    else if (e.ev !== "spawn") out.push(`${e.ev} ${e.vm ?? ""} ${r(e.t)}`);
  }
  out.push(`last event ${r(Math.max(...events.map((e) => e.t)))}`);
  return out;
}

/** The phases of one CLI run (ms from its start): Node up, source side done, SSH answers, rsync, end. */
function phases(events: TimelineEvent[], t0: number): Record<string, number> {
  const r = (x: number) => Math.round(x - t0);
  const exits = events.filter((e) => e.ev === "exit");
  const answers = events.filter((e) => e.ev === "ssh.answer").map((e) => e.t);
  const ran = (prog: string) => exits.filter((e) => e.prog?.split(" ")[0] === prog).reduce((t, e) => t + (e.ms ?? 0), 0);
  const source = exits.filter((e) => e.prog !== "rsync" && e.t - (e.ms ?? 0) < Math.min(...answers));
  return {
    firstEvent: r(Math.min(...events.map((e) => e.t))),
    sourceDone: r(Math.max(...source.map((e) => e.t))),
    firstAnswer: r(Math.min(...answers)),
    lastAnswer: r(Math.max(...answers)),
    end: r(Math.max(...events.map((e) => e.t))),
    gitMs: ran("git"), cpMs: ran("cp"), findMs: ran("find"), gitleaksMs: ran("gitleaks"), rsyncMs: ran("rsync"),
  };
}

/** `/usr/bin/time`'s user + system CPU (ms) of every `cpu U S` line in `stderr`. */
function cpuMs(stderr: string): number {
  return [...stderr.matchAll(/^cpu ([\d.]+) ([\d.]+)$/gm)].reduce((t, m) => t + (Number(m[1]) + Number(m[2])) * 1000, 0);
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 3);
  const runs = Number(process.argv[3] ?? 5);
  const treeSrc = process.argv[4] ?? "/usr/share/doc";
  const fleet = await startFleet({ count: n, firstAddress: process.argv[5] ?? "127.0.1.2" });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-cliprof-"));
  const repo = repoFromTree(treeSrc);
  const found = await scanRepository(await exportCommitTree(repo.path, repo.head(), cacheDir()), {});
  const alertRepo = alertOnlyRepo(repo);
  if (found.hasSecrets) repo.commit({ ".gitleaksignore": found.findings.map((f) => f.fingerprint).join("\n") + "\n" }, "accept false positives");
  const fingerprints = found.findings.map((f) => f.fingerprint);
  try {
    const ids = fleet.vms.slice(0, n).map((v) => v.id);
    const cfg = path.join(work, "cfg.yml");
    fs.writeFileSync(cfg, stringify(fleetConfig(fleet, { repoPath: repo.path, repository: { push_targets: ids, parallelism: 64, adopt_existing: true } })));
    const alertCfg = writeAlertOnlyConfig(fleet, alertRepo, n, path.join(work, "cfg-alert.yml"));
    const cli = path.join(PROJECT_ROOT, "bin", "repo-sync");
    const targets = loadConfig(cfg).targets;
    const bareTo = (r: string, env: NodeJS.ProcessEnv = {}) => Promise.all(targets.map((t) => must(timed(TIME, ["-f", "cpu %U %S", "rsync", "-a", "--delete", "--omit-dir-times", "-e", rsyncRemoteShell(t), "--exclude=.git", `${r}/`, `${t.host}:${t.path}-bare/`], { env: { ...process.env, ...env } }), "rsync")));
    // First runs: every folder holds the tree, and each mode's scan record exists.
    await must(timed(cli, ["sync", "--config", cfg, "--no-pull"]), "first sync");
    await bareTo(repo.path);
    const noChange = process.env.NO_CHANGE === "1";
    if (!noChange) checkAlerted((await must(timed(cli, ["sync", "--config", alertCfg, "--no-pull"]), "first sync (alert-only)")).stderr, fingerprints, "first sync (alert-only)");
    let counter = 0;
    const commit = (r: typeof repo) => r.commit({ "deploy-loop.txt": `deploy ${++counter} at ${Date.now()}\n` }, `deploy ${counter}`);
    type Mode = { kind: "bare" | "cli" | "alert"; env: NodeJS.ProcessEnv; ms: number[]; cpu: number[]; loads: string[]; timelines: string[][]; phases: Array<Record<string, number>> };
    const mode = (kind: Mode["kind"], env: NodeJS.ProcessEnv = {}): Mode => ({ kind, env, ms: [], cpu: [], loads: [], timelines: [], phases: [] });
    const modes: Record<string, Mode> = { bare: mode("bare"), cli: mode("cli"), ...(noChange ? {} : { alert: mode("alert") }) };
    for (const v of (process.env.VARIANTS ?? "").split(";").filter(Boolean)) {
      const name = v.slice(0, v.indexOf(":"));
      const env = Object.fromEntries(v.slice(v.indexOf(":") + 1).split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
      modes[`bare-${name}`] = mode("bare", env);
      modes[`cli-${name}`] = mode("cli", env);
    }
    const run = async (name: string) => {
      const m = modes[name];
      await closeKeptMasters(m.kind === "alert" ? alertCfg : cfg);
      m.loads.push(loadAvg());
      const file = path.join(work, `timeline-${name}.jsonl`);
      fs.rmSync(file, { force: true });
      const t0 = performance.timeOrigin + performance.now();
      const start = performance.now();
      if (m.kind === "bare") {
        if (!noChange) commit(repo);
        const rs = await bareTo(repo.path, m.env);
        m.ms.push(performance.now() - start);
        m.cpu.push(rs.reduce((t, x) => t + cpuMs(x.stderr), 0));
        return;
      }
      if (!noChange) commit(m.kind === "alert" ? alertRepo : repo);
      const env = { ...process.env, ...m.env, REPO_SYNC_TIMELINE: file, ...cliNodeOptions };
      const res = await must(timed(TIME, ["-f", "cpu %U %S", cli, "sync", "--config", m.kind === "alert" ? alertCfg : cfg, "--no-pull"], { env }), `sync (${name})`);
      m.ms.push(performance.now() - start);
      if (m.kind === "alert") checkAlerted(res.stderr, fingerprints, "sync (alert-only)");
      m.cpu.push(cpuMs(res.stderr));
      const events = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as TimelineEvent);
      m.timelines.push(spawns(events, t0));
      m.phases.push(phases(events, t0));
    };
    const order = Object.keys(modes);
    for (let i = 0; i < runs; i++) for (let k = 0; k < order.length; k++) await run(order[(i + k) % order.length]);
    const bare = median(modes.bare.ms);
    process.stdout.write(JSON.stringify({
      vms: n, tree: treeSrc, findings: fingerprints.length,
      ms: Object.fromEntries(Object.entries(modes).map(([k, m]) => [k, m.ms.map(Math.round)])),
      clientCpuMs: Object.fromEntries(Object.entries(modes).map(([k, m]) => [k, m.cpu.map(Math.round)])),
      medianMs: Object.fromEntries(Object.entries(modes).map(([k, m]) => [k, Math.round(median(m.ms))])),
      medianCpuMs: Object.fromEntries(Object.entries(modes).map(([k, m]) => [k, Math.round(median(m.cpu))])),
      medianPhases: Object.fromEntries(order.filter((k) => modes[k].kind !== "bare").map((k) => [k, Object.fromEntries(Object.keys(modes[k].phases[0]).map((p) => [p, median(modes[k].phases.map((x) => x[p]))]))])),
      loads: Object.fromEntries(Object.entries(modes).map(([k, m]) => [k, m.loads])),
      ratios: Object.fromEntries(order.filter((k) => k !== "bare").map((k) => [k, +(median(modes[k].ms) / bare).toFixed(2)])),
      timelines: Object.fromEntries(order.filter((k) => modes[k].kind !== "bare").map((k) => [k, modes[k].timelines])),
    }, null, 2) + "\n");
  } finally {
    await closeKeptMasters(path.join(work, "cfg.yml")).catch(() => undefined);
    await fleet.stop();
    for (const r of [repo, alertRepo]) fs.rmSync(r.path, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`cliProfile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
