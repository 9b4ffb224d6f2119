/**
 * The deploy loop: every run is a new one-line commit, deployed to VMs already holding the previous
 * one, with nothing pre-warmed for that commit (its export and its secret scan are part of the time).
 * Each tool pays for the commit itself too, so the columns compare what a user waits for.
 *   floor:   commit + bare `rsync -a --delete` of the checkout to every VM in parallel
 *   CLI:     commit + `repo-sync sync`
 *   CLI (releases): the same with `repository.layout: releases` (a new release hard-linked from the last)
 *   CLI (alert-only): the same with `block_on_secrets: false` on the tree with its findings not ignored
 *            (its own repo and folders: alertOnly.ts); each run must report every finding
 *   up:      commit + `pulumi up --skip-preview`
 *   Ansible: commit + `ansible.posix.synchronize` of the checkout (no secret gate)
 *   CopyToRemote: the same one-line change in the pushed folder + `pulumi up` of remote.CopyToRemote
 * The CLI and `pulumi up` runs are cold: no kept SSH connection from the run before (a deploy loop's
 * commits are usually further apart than the persist time), as bare rsync and Ansible have none. Beside
 * them, the engine floor of a no-change `pulumi up` of as many do-nothing resources: what `pulumi up`
 * costs before repo-sync does anything (issue 23: the part above it is held to 1.3x the CLI).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Target } from "../lib/config/types";
import { rsyncRemoteShell } from "../lib/transfer/rsyncArgs";
import type { SourceRepo } from "../tools/fleet/sourceRepo";
import { PROJECT_ROOT, PulumiProject } from "../tools/pulumiCli";
import type { Row } from "./report";
import { AlertOnlySetup, checkAlerted } from "./alertOnly";
import { copyUp } from "./copyToRemote";
import { Case, measure, measureInterleaved, must, timed } from "./timing";

/** What the deploy loop needs to run one tool against one load and fan-out. */
export interface DeployLoopSetup {
  load: string;
  repo: SourceRepo;
  targets: Target[];
  cfgPath: string;
  /** The same fleet in the releases layout (its own folders): a "repo-sync CLI (releases)" column. */
  releasesCfgPath?: string;
  runs: number;
  /** A Pulumi project on this config, already up (undefined: no `pulumi up` column). */
  project?: PulumiProject;
  /** An Ansible inventory and playbook pushing the checkout (undefined: no Ansible column). */
  ansible?: { inventory: string; playbook: string };
  /** A CopyToRemote stack of the repo's `tree/` folder (undefined: no CopyToRemote column). */
  copy?: PulumiProject;
  /** The engine floor's no-change `pulumi up` of as many resources (ms), shown beside `pulumi up`. */
  floorUpMs?: number;
  /** Ends the kept SSH masters of these targets (a cold run follows). */
  closeMasters?: () => Promise<void>;
  /** The alert-only mode on the same VMs (undefined: no "repo-sync CLI (alert-only)" column). */
  alertOnly?: AlertOnlySetup;
  /** Bare rsync and the CLI columns only (`--only alert-loop`): no n/a column for tools not set up. */
  focused?: boolean;
}

/** A file in the repo whose last line changes at each commit. */
const LOOP_FILE = "deploy-loop.txt";
let counter = 0;

/** Writes one changed line and commits it (what every column pays first). */
function oneLineCommit(repo: SourceRepo): void {
  counter++;
  fs.writeFileSync(path.join(repo.path, LOOP_FILE), `deploy ${counter} at ${Date.now()}\n`);
  repo.git("add", "--", LOOP_FILE);
  repo.git("commit", "-q", "-m", `deploy ${counter}`);
}

/** Times the loop for every tool; returns the row (ms, medians) with bare rsync as the baseline. */
export async function measureDeployLoop(s: DeployLoopSetup): Promise<Row> {
  const cli = path.join(PROJECT_ROOT, "bin", "repo-sync");
  const rsyncCheckout = () => Promise.all(s.targets.map((t) => must(timed("rsync", ["-a", "--delete", "--omit-dir-times", "-e", rsyncRemoteShell(t), "--exclude=.git", `${s.repo.path}/`, `${t.host}:${t.path}/`]), "rsync")));
  const bare = async () => {
    const t0 = performance.now();
    oneLineCommit(s.repo);
    await rsyncCheckout();
    return performance.now() - t0;
  };
  const viaCli = async () => {
    const t0 = performance.now();
    oneLineCommit(s.repo);
    await must(timed(cli, ["sync", "--config", s.cfgPath, "--no-pull"]), "repo-sync sync (deploy loop)");
    return performance.now() - t0;
  };
  // Before each measured run the same kind of push leaves every VM at the previous commit: the
  // checkout's own file times for rsync and Ansible, the export's blob-derived times for repo-sync.
  const settle = async () => void (await must(timed(cli, ["sync", "--config", s.cfgPath, "--no-pull"]), "settle"));
  const settleCheckout = async () => void (await rsyncCheckout());
  const cases: Record<string, number | null> = {};
  await settle(); // creates the target folders (and finds the tree's files clean once)
  const coldAfter = (reset: () => Promise<void>) => async () => {
    await reset();
    await s.closeMasters?.();
  };
  // Bare rsync, the CLI and its alert-only mode round-robin: the ratios that carry targets compare runs
  // that saw the same load (the machine is shared). Each run still follows its own settle.
  const firstColumns: Case[] = [
    { name: "bare rsync", reset: settleCheckout, fn: bare },
    { name: "repo-sync CLI", reset: coldAfter(settle), fn: viaCli },
  ];
  if (s.alertOnly) {
    const a = s.alertOnly;
    const sync = (what: string) => must(timed(cli, ["sync", "--config", a.cfgPath, "--no-pull"]), what);
    // The first run scans the whole tree once (no record yet); the runs after it pay for the change.
    const settleAlert = async () => checkAlerted((await sync("settle (alert-only)")).stderr, a.fingerprints, "settle (alert-only)");
    await settleAlert();
    firstColumns.push({
      name: "repo-sync CLI (alert-only)",
      reset: coldAfter(settleAlert),
      fn: async () => {
        const t0 = performance.now();
        oneLineCommit(a.repo);
        const r = await sync("repo-sync sync (deploy loop, alert-only)");
        const ms = performance.now() - t0;
        checkAlerted(r.stderr, a.fingerprints, "repo-sync sync (deploy loop, alert-only)");
        return ms;
      },
    });
  }
  const { "bare rsync": tBare, ...first } = await measureInterleaved(s.runs, firstColumns);
  Object.assign(cases, first);
  if (s.releasesCfgPath) {
    const cfg = s.releasesCfgPath;
    const settleReleases = async () => void (await must(timed(cli, ["sync", "--config", cfg, "--no-pull"]), "settle (releases)"));
    await settleReleases();
    cases["repo-sync CLI (releases)"] = await measure(s.runs, coldAfter(settleReleases), async () => {
      const t0 = performance.now();
      oneLineCommit(s.repo);
      await must(timed(cli, ["sync", "--config", cfg, "--no-pull"]), "repo-sync sync (deploy loop, releases)");
      return performance.now() - t0;
    });
  }
  if (s.project) {
    const p = s.project;
    const up = () => must(timed("pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: p.dir, env: p.env }), "pulumi up (deploy loop)");
    await up();
    cases["pulumi up"] = await measure(s.runs, coldAfter(async () => void (await up())), async () => {
      const t0 = performance.now();
      oneLineCommit(s.repo);
      await up();
      return performance.now() - t0;
    });
    if (s.floorUpMs !== undefined) cases["engine floor (no-change up)"] = s.floorUpMs;
  }
  if (s.ansible) {
    const a = s.ansible;
    const play = () => must(timed("ansible-playbook", ["-i", a.inventory, a.playbook], { env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: "True", ANSIBLE_NOCOLOR: "1" } }), "ansible-playbook (deploy loop)");
    cases["Ansible synchronize"] = await measure(s.runs, settleCheckout, async () => {
      const t0 = performance.now();
      oneLineCommit(s.repo);
      await play();
      return performance.now() - t0;
    });
  }
  let failure: string | undefined;
  if (s.copy) {
    // CopyToRemote knows no git: the same one-line change lands in the folder it pushes.
    const p = s.copy;
    const change = () => fs.appendFileSync(path.join(s.repo.path, "tree", LOOP_FILE), `deploy at ${Date.now()}\n`);
    try {
      await copyUp(p);
      cases.CopyToRemote = await measure(s.runs, async () => void (await copyUp(p)), async () => {
        const t0 = performance.now();
        change();
        await copyUp(p);
        return performance.now() - t0;
      });
    } catch (err) {
      // A tree it cannot copy (read-only files it must overwrite, dangling links) is a result too.
      cases.CopyToRemote = null;
      failure = firstError(err);
    }
  } else if (!s.focused) {
    cases.CopyToRemote = null;
  }
  return { group: "one-line commit (deploy loop)", load: s.load, vms: s.targets.length, baseline: "bare rsync", baselineMs: tBare, cases, ...(failure ? { failures: { CopyToRemote: failure } } : {}) };
}

/** The first `error:` line of a failed run's output. */
export function firstError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (/error: (.*)/.exec(text)?.[1] ?? text.split("\n")[0]).trim().slice(0, 300);
}
