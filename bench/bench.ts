/**
 * `./run.sh bench`: repo-sync side by side with its baselines, in one run on this machine, on the
 * loopback fleet. Writes bench/results/latest.json, latest.md and preview-vs-fleet.svg.
 *
 *   node dist/bench/bench.js [--smoke] [--runs N] [--out DIR] [--no-ansible] [--small-files N]
 *                            [--only GROUPS] [--big-tree DIR] [--first-address 127.a.b.c]
 *
 * The fleet (one sshd per VM, up to 128) starts at --first-address (default 127.0.1.2, away from
 * every test file's 127.0.0.x). Each row's ratios, and the issue-23 targets they meet or miss, are
 * printed as soon as the row is measured, and again in latest.md.
 * --smoke: tiny work loads, one run, fleets of 1/2 (what CI runs: it proves the script works; its
 * figures mean nothing). Never used with time thresholds.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { loadConfig } from "../lib/config/load";
import { cacheDir } from "../lib/paths";
import { scanRepository } from "../lib/scan/scanRepository";
import { exportCommitTree } from "../lib/source/exportTree";
import { rsyncRemoteShell } from "../lib/transfer/rsyncArgs";
import { Fleet, startFleet } from "../tools/fleet/fleet";
import { fleetConfig } from "../tools/fleet/fleetConfig";
import type { SourceRepo } from "../tools/fleet/sourceRepo";
import { fakeAwsKeyLine } from "../tools/fleet/sourceRepo";
import { repoFromTree, repoWithSmallFiles } from "./workLoads";
import { alertOnlyRepo, writeAlertOnlyConfig } from "./alertOnly";
import { programProject, PROJECT_ROOT, PulumiProject } from "../tools/pulumiCli";
import { copyToRemoteAvailable, copyToRemoteProject, copyUp } from "./copyToRemote";
import { firstError, measureDeployLoop } from "./deployLoop";
import { renderChart, renderMarkdown, Row } from "./report";
import { closeKeptMasters } from "./keptMasters";
import { floorProject, measurePreviewCurve } from "./previewCurve";
import { checkRow, describeCheck } from "./targets";
import { measure, median, must, timed } from "./timing";

function clearTargets(fleet: Fleet, n: number): void {
  for (const vm of fleet.vms.slice(0, n)) fs.rmSync(vm.targetPath, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: "boolean", default: false },
      runs: { type: "string" },
      out: { type: "string", default: path.join(PROJECT_ROOT, "bench", "results") },
      "no-ansible": { type: "boolean", default: false },
      "small-files": { type: "string" },
      only: { type: "string" },
      "big-tree": { type: "string", default: "/usr/share/doc" },
      "first-address": { type: "string", default: "127.0.1.2" },
    },
  });
  // --only sync,preview,delta,scan,deploy-loop,alert-loop: run just those groups (default: all). alert-loop
  // alone: the deploy loop's alert-only row by itself (the big tree, 3 VMs, bare rsync and the CLI only).
  const only = typeof values.only === "string" ? new Set(values.only.split(",")) : undefined;
  const wants = (group: string) => !only || only.has(group);
  const smoke = values.smoke === true;
  const runs = Number(values.runs ?? (smoke ? 1 : 3));
  // Smoke: one fan-out and one fleet size, enough to run every code path once (CI time).
  const fanouts = smoke ? [2] : [1, 3];
  // The alert-only column comes with the whole deploy loop; `--only alert-loop` runs its row alone.
  const alertLoopAlone = wants("alert-loop") && !wants("deploy-loop");
  const previewSizes = smoke ? [2] : [1, 3, 16, 64, 128];
  const upSizes = smoke ? [2] : [3, 16];
  const smallN = Number(values["small-files"] ?? (smoke ? 200 : 50_000));
  const ansible = !values["no-ansible"] && (await timed("sh", ["-c", "command -v ansible-playbook"])).code === 0;
  const copyAvailable = await copyToRemoteAvailable();
  const outDir = path.resolve(values.out as string);
  fs.mkdirSync(outDir, { recursive: true });
  const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
  const rows: Row[] = [];
  const extra: Record<string, unknown> = {};
  // Each row's ratios and targets, as soon as it is measured.
  const record = (row: Row) => {
    row.loadAvg = fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    log(`  ${row.group}, ${row.load}, ${row.vms} VM(s): load average ${row.loadAvg}`);
    rows.push(row);
    for (const [name, ms] of Object.entries(row.cases)) log(`  ${row.group}, ${row.load}, ${row.vms} VM(s): ${name} ${ms === null ? "n/a" : `${(ms / 1000).toFixed(2)} s = ${(ms / row.baselineMs).toFixed(2)}x ${row.baseline} (${(row.baselineMs / 1000).toFixed(2)} s)`}`);
    for (const c of checkRow(row)) log(`  target ${describeCheck(c)}`);
  };

  // The alert-only row alone needs its 3 VMs only.
  const fleetSize = only && [...only].every((g) => g === "alert-loop") ? (smoke ? 2 : 3) : Math.max(...previewSizes, ...fanouts, ...upSizes);
  log(`starting a fleet of ${fleetSize} VMs`);
  const fleet = await startFleet({ count: fleetSize, firstAddress: values["first-address"] as string });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-bench-"));
  const cleanups: Array<() => void> = [];
  try {
    // Only the loads the chosen groups use (--only preview needs none of them).
    const needsTree = ["sync", "deploy-loop", "delta", "scan"].some(wants) || (alertLoopAlone && smoke);
    const loads: Array<{ name: string; repo: SourceRepo }> = [
      ...(needsTree ? [{ name: smoke ? "npm yaml (real tree)" : "npm @opentelemetry (real tree)", repo: repoFromTree(path.join(PROJECT_ROOT, "node_modules", smoke ? "yaml" : "@opentelemetry")) }] : []),
      // Smoke: the real tree only (CI time); the small-files load runs the same code.
      ...(smoke || !wants("sync") ? [] : [{ name: `${smallN} small files`, repo: repoWithSmallFiles(smallN) }]),
    ];
    for (const l of loads) cleanups.push(() => fs.rmSync(l.repo.path, { recursive: true, force: true }));

    for (const load of wants("sync") ? loads : []) {
      const tree = await exportCommitTree(load.repo.path, load.repo.head(), cacheDir());
      const files = Number((await timed("sh", ["-c", `find '${tree}' -type f | wc -l`])).stdout.trim());
      const mb = Number((await timed("du", ["-sm", tree])).stdout.split("\t")[0]);
      log(`work load ${load.name}: ${files} files, ${mb} MB`);
      extra[`load:${load.name}`] = { files, mb };

      for (const n of fanouts) {
        const cfgPath = path.join(work, `cfg-${n}.yml`);
        const doc = fleetConfig(fleet, { repoPath: load.repo.path, repository: { push_targets: fleet.vms.slice(0, n).map((v) => v.id), parallelism: 64, adopt_existing: true } });
        fs.writeFileSync(cfgPath, stringify(doc));
        const targets = loadConfig(cfgPath).targets;
        const bareRsync = () =>
          Promise.all(targets.map((t) => must(timed("rsync", ["-a", "--delete", "--omit-dir-times", "-e", rsyncRemoteShell(t), "--exclude=.git", `${tree}/`, `${t.host}:${t.path}/`]), "rsync"))).then((rs) => Math.max(...rs.map((r) => r.ms)));
        const mkdirTargets = () => {
          clearTargets(fleet, n);
          for (const vm of fleet.vms.slice(0, n)) {
            fs.mkdirSync(vm.targetPath, { recursive: true });
            fs.chownSync(vm.targetPath, fs.statSync(vm.root).uid, fs.statSync(vm.root).gid);
          }
        };
        // Warm the export and scan caches: they are per commit, measured on their own below.
        await must(timed(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", "--config", cfgPath, "--no-pull"]), "warm-up sync");
        // Cold: no kept SSH connection from the run before (as bare rsync has none): every handshake paid.
        const cold = (reset: () => void) => async () => {
          reset();
          await closeKeptMasters(cfgPath);
        };

        log(`${load.name}, ${n} VM(s): initial sync`);
        const tBare = await measure(runs, mkdirTargets, async () => {
          const t0 = performance.now();
          await bareRsync();
          return performance.now() - t0;
        });
        const tCli = await measure(runs, cold(() => clearTargets(fleet, n)), () => must(timed(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", "--config", cfgPath, "--no-pull"]), "repo-sync sync"));
        let tUp: number | undefined;
        let peakKb = 0;
        // The last run's stack stays for the no-change `pulumi up` below (as CopyToRemote's does).
        let upProject: PulumiProject | undefined;
        const upOnce = (project: PulumiProject) => must(timed("pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: project.dir, env: project.env }), "pulumi up");
        if (load === loads[0] || !smoke) {
          tUp = await measure(runs, cold(() => clearTargets(fleet, n)), async () => {
            upProject?.dispose();
            upProject = await programProject(cfgPath);
            await upProject.ok(["config", "set", "repo-sync:pull", "false"]);
            const stop = watchPeakRss("cmd/dynamic-provider", (kb) => (peakKb = Math.max(peakKb, kb)));
            const r = await upOnce(upProject);
            stop();
            return r;
          });
        }
        let tAnsible: number | undefined;
        if (ansible) {
          const play = writeAnsible(work, fleet, n, tree, cfgPath);
          tAnsible = await measure(runs, mkdirTargets, () => must(timed("ansible-playbook", ["-i", play.inventory, play.playbook], { env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: "True", ANSIBLE_NOCOLOR: "1" } }), "ansible-playbook"));
        }
        // CopyToRemote: a fresh stack per run (its create), then the same stack again (no change).
        let tCopy: number | null = null;
        let tCopyNo: number | null = null;
        // Smoke: CopyToRemote runs in the deploy loop only (CI time; the code paths are the same).
        if (copyAvailable && !smoke) {
          let last: PulumiProject | undefined;
          try {
            tCopy = await measure(runs, mkdirTargets, async () => {
              last?.dispose();
              last = await copyToRemoteProject(targets, tree);
              return copyUp(last);
            });
            if (last) {
              const p = last;
              tCopyNo = await measure(runs, () => undefined, () => copyUp(p));
            }
          } catch (err) {
            extra[`CopyToRemote failed (${load.name}, ${n} VMs)`] = firstError(err);
          } finally {
            last?.dispose();
          }
        }
        record({ group: "initial sync", load: load.name, vms: n, baseline: "bare rsync", baselineMs: tBare, cases: { "repo-sync CLI": tCli, ...(tUp !== undefined ? { "pulumi up": tUp } : {}), ...(tAnsible !== undefined ? { "Ansible synchronize": tAnsible } : {}), "CopyToRemote": tCopy } });
        if (peakKb) extra[`provider peak RSS KB (${load.name}, ${n} VMs)`] = peakKb;

        log(`${load.name}, ${n} VM(s): no-change sync`);
        await must(timed(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", "--config", cfgPath, "--no-pull"]), "converge");
        const tBareNo = await measure(runs, () => undefined, async () => {
          const t0 = performance.now();
          await bareRsync();
          return performance.now() - t0;
        });
        const noChange = () => must(timed(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", "--config", cfgPath, "--no-pull"]), "no-change sync");
        const tCliNo = await measure(runs, cold(() => undefined), noChange);
        // Warm: within the persist time of the run before (status then sync, or one sync after another).
        const tCliNoWarm = await measure(runs, () => undefined, noChange);
        let tAnsibleNo: number | undefined;
        if (ansible) {
          const play = writeAnsible(work, fleet, n, tree, cfgPath);
          tAnsibleNo = await measure(runs, () => undefined, () => must(timed("ansible-playbook", ["-i", play.inventory, play.playbook, "--check"], { env: { ...process.env, ANSIBLE_NOCOLOR: "1" } }), "ansible --check"));
        }
        let tUpNo: number | undefined;
        if (upProject) {
          const p = upProject;
          tUpNo = await measure(runs, cold(() => undefined), () => upOnce(p));
          p.dispose();
        }
        record({ group: "no-change sync", load: load.name, vms: n, baseline: "bare rsync", baselineMs: tBareNo, cases: { "repo-sync CLI (cold)": tCliNo, "repo-sync CLI (warm)": tCliNoWarm, ...(tUpNo !== undefined ? { "pulumi up (no change)": tUpNo } : {}), ...(tAnsibleNo !== undefined ? { "Ansible --check": tAnsibleNo } : {}), "CopyToRemote (no-change up)": tCopyNo } });
      }
    }

    // No-change preview/up against the engine floor, over fleet sizes (the curve), cold and warm.
    if (wants("preview")) {
      const curveRepo = repoFromTree(path.join(PROJECT_ROOT, "node_modules", "yaml"));
      cleanups.push(() => fs.rmSync(curveRepo.path, { recursive: true, force: true }));
      log(`no-change preview curve: ${previewSizes.join(", ")} VMs`);
      await measurePreviewCurve({ fleet, repo: curveRepo, load: "npm yaml (real tree)", work, runs, previewSizes, upSizes, onRow: record });
    }

    if (wants("deploy-loop") || alertLoopAlone) {
      // A ~100 MB real tree nobody here wrote, next to the npm one (smoke: the small npm tree only).
      const bigTree = smoke || !fs.existsSync(values["big-tree"] as string) ? [] : [{ name: `${values["big-tree"]} (real tree)`, repo: repoFromTree(values["big-tree"] as string) }];
      for (const l of bigTree) cleanups.push(() => fs.rmSync(l.repo.path, { recursive: true, force: true }));
      // The alert-only row alone: the big tree (smoke: the small one), 3 VMs (smoke: 2).
      const loopLoads = alertLoopAlone ? (smoke ? [loads[0]] : bigTree) : [loads[0], ...bigTree];
      if (loopLoads.length === 0) throw new Error(`--only alert-loop needs the big tree ${values["big-tree"]} (--big-tree DIR)`);
      for (const load of loopLoads) {
        // Smoke: the small tree has no finding of its own; one is planted so that the alert-only path runs.
        if (smoke) load.repo.commit({ "bench-planted.env": `${fakeAwsKeyLine()}\n` }, "a finding for the alert-only column");
        const tree = await exportCommitTree(load.repo.path, load.repo.head(), cacheDir());
        // The first (cold) scan of the tree: repo-sync's full gate against gitleaks alone on the same files.
        const coldCfg = path.join(work, "cfg-cold.yml");
        fs.writeFileSync(coldCfg, stringify(fleetConfig(fleet, { repoPath: load.repo.path, repository: { push_targets: ["vm01"], adopt_existing: true } })));
        const alone = await scanRepository(tree, {});
        const gitleaksAlone = alone.durationMs;
        // Alert-only: the tree as it is, its findings not accepted (a clone taken before they are).
        const alertRepo = alone.hasSecrets ? alertOnlyRepo(load.repo) : undefined;
        if (alertRepo) cleanups.push(() => fs.rmSync(alertRepo.path, { recursive: true, force: true }));
        else if (alertLoopAlone) throw new Error(`${load.name}: gitleaks finds nothing in this tree; the alert-only row needs findings nobody ignored`);
        else log(`${load.name}: no gitleaks findings, no alert-only column`);
        if (alone.hasSecrets) {
          // A real tree has false positives (example keys in docs): accepted the documented way.
          log(`${load.name}: ${alone.findings.length} findings accepted through .gitleaksignore`);
          load.repo.commit({ ".gitleaksignore": alone.findings.map((f) => f.fingerprint).join("\n") + "\n" }, "accept false positives");
        }
        if (!alertLoopAlone) {
          const repoSyncFull = (await must(timed(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["scan", "--full", "--config", coldCfg]), "repo-sync scan --full")).ms;
          extra[`cold scan: ${load.name}`] = { gitleaksAloneMs: gitleaksAlone, repoSyncScanFullMs: Math.round(repoSyncFull), ratio: repoSyncFull / gitleaksAlone };
        }
        for (const n of alertLoopAlone ? [smoke ? 2 : 3] : fanouts) {
          log(`${load.name}, ${n} VM(s): one-line commit (deploy loop)`);
          const cfgPath = path.join(work, `cfg-loop-${n}.yml`);
          fs.writeFileSync(cfgPath, stringify(fleetConfig(fleet, { repoPath: load.repo.path, repository: { push_targets: fleet.vms.slice(0, n).map((v) => v.id), parallelism: 64, adopt_existing: true } })));
          clearTargets(fleet, n);
          const alertOnly = alertRepo ? { repo: alertRepo, cfgPath: writeAlertOnlyConfig(fleet, alertRepo, n, path.join(work, `cfg-loop-${n}-alert.yml`)), fingerprints: alone.findings.map((f) => f.fingerprint) } : undefined;
          const closeMasters = () => closeKeptMasters(cfgPath).then(() => undefined);
          if (alertLoopAlone) {
            record(await measureDeployLoop({ load: load.name, repo: load.repo, targets: loadConfig(cfgPath).targets, cfgPath, runs, closeMasters, alertOnly, focused: true }));
            continue;
          }
          const project = await programProject(cfgPath);
          cleanups.push(() => project.dispose());
          await project.ok(["config", "set", "repo-sync:pull", "false"]);
          const targets = loadConfig(cfgPath).targets;
          const copy = copyAvailable ? await copyToRemoteProject(targets, path.join(load.repo.path, "tree")) : undefined;
          if (copy) cleanups.push(() => copy.dispose());
          // The releases layout, side by side: its own folders on the same VMs (releases/<commit> + current).
          const releasesCfg = path.join(work, `cfg-loop-${n}-releases.yml`);
          const releasesDoc = fleetConfig(fleet, { repoPath: load.repo.path, repository: { push_targets: fleet.vms.slice(0, n).map((v) => v.id), parallelism: 64, layout: "releases" } }) as { repository: { vm_repo_paths: Record<string, string> } };
          for (const vm of Object.keys(releasesDoc.repository.vm_repo_paths)) releasesDoc.repository.vm_repo_paths[vm] += "-releases";
          fs.writeFileSync(releasesCfg, stringify(releasesDoc));
          // The engine floor of this `pulumi up`: a no-change up of as many do-nothing dynamic resources.
          const floor = await floorProject(n);
          cleanups.push(() => floor.dispose());
          const floorUpMs = await measure(runs, () => undefined, () => must(timed("pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: floor.dir, env: floor.env }), "floor up"));
          record(await measureDeployLoop({
            load: load.name, repo: load.repo, targets, cfgPath, releasesCfgPath: releasesCfg, runs, project,
            ansible: ansible ? writeAnsible(work, fleet, n, load.repo.path, cfgPath) : undefined,
            copy, floorUpMs, closeMasters, alertOnly,
          }));
        }
      }
    }

    // Delta: one file changed in the big tree.
    const load = loads[0];
    if (wants("delta")) {
      log("delta: one file changed");
      const cfg1 = path.join(work, "cfg-delta.yml");
      fs.writeFileSync(cfg1, stringify(fleetConfig(fleet, { repoPath: load.repo.path, repository: { push_targets: ["vm01"], adopt_existing: true } })));
      await must(timed(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", "--config", cfg1, "--no-pull"]), "delta base");
      const victim = largestFile(path.join(load.repo.path, "tree"));
      const content = fs.readFileSync(victim);
      const changed = Buffer.from(content);
      const changeBytes = Math.min(100, changed.length);
      for (let i = 0; i < changeBytes; i++) changed[Math.floor(changed.length / 2) + i - Math.floor(changeBytes / 2)] ^= 0x5a;
      fs.writeFileSync(victim, changed);
      load.repo.git("commit", "-q", "-am", "one file changed");
      const delta = JSON.parse((await must(timed(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", "--config", cfg1, "--no-pull", "--json"]), "delta sync")).stdout) as { results: Array<{ bytes_transferred: number; literal_bytes: number; files_transferred: number }> };
      extra.delta = { file: path.relative(load.repo.path, victim), fileBytes: content.length, changedBytes: changeBytes, bytesSent: delta.results[0].bytes_transferred, literalBytes: delta.results[0].literal_bytes, filesTransferred: delta.results[0].files_transferred, literalToChange: delta.results[0].literal_bytes / changeBytes, sentToChange: delta.results[0].bytes_transferred / changeBytes };
    }

    // Secret scan: cost per commit (uncached) and how often it runs in one `pulumi up` over 3 VMs.
    if (wants("scan")) {
      log("secret scan");
      const tree = await exportCommitTree(load.repo.path, load.repo.head(), cacheDir());
      extra.scanMs = median(await Promise.all(Array.from({ length: Math.max(1, runs) }, async () => (await scanRepository(tree, {})).durationMs)));
      extra.gitleaksRunsPerUp = await countScans(work, fleet, load.repo, Math.min(3, fleet.vms.length));
    }
  } finally {
    for (const c of cleanups) c();
    await fleet.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }

  const result = { date: new Date().toISOString(), smoke, runs, machine: machineFacts(), rows, extra };
  fs.writeFileSync(path.join(outDir, "latest.json"), JSON.stringify(result, null, 2) + "\n");
  fs.writeFileSync(path.join(outDir, "latest.md"), renderMarkdown(result));
  fs.writeFileSync(path.join(outDir, "preview-vs-fleet.svg"), renderChart(rows.filter((r) => r.group === "no-change preview")));
  process.stdout.write(renderMarkdown(result));
}

/** Polls the RSS high-water mark of processes whose command line contains `pattern`. */
function watchPeakRss(pattern: string, report: (kb: number) => void): () => void {
  const timer = setInterval(() => {
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(pattern)) continue;
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        if (m) report(Number(m[1]));
      } catch {
        // gone
      }
    }
  }, 50);
  return () => clearInterval(timer);
}

function largestFile(dir: string): string {
  let best = { p: "", size: -1 };
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const size = fs.statSync(p).size;
        if (size > best.size) best = { p, size };
      }
    }
  };
  walk(dir);
  return best.p;
}

/** An inventory and a playbook that do with Ansible what repo-sync does: synchronize with delete. */
function writeAnsible(work: string, fleet: Fleet, n: number, tree: string, cfgPath: string): { inventory: string; playbook: string } {
  const targets = loadConfig(cfgPath).targets;
  const inventory = path.join(work, `inventory-${n}.ini`);
  const lines = ["[vms]"];
  for (const t of targets.slice(0, n)) {
    lines.push(`${t.vm} ansible_host=${t.host} ansible_port=${t.port} ansible_user=${t.user} ansible_ssh_private_key_file=${t.keyPath} target_path=${t.path} ansible_ssh_common_args="-o UserKnownHostsFile=${fleet.knownHostsPath} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"`);
  }
  fs.writeFileSync(inventory, lines.join("\n") + "\n");
  const playbook = path.join(work, "sync.yml");
  fs.writeFileSync(playbook, `- hosts: vms\n  gather_facts: false\n  tasks:\n    - ansible.posix.synchronize:\n        src: "${tree}/"\n        dest: "{{ target_path }}/"\n        delete: true\n        rsync_opts: ["--exclude=.git", "--omit-dir-times"]\n`);
  return { inventory, playbook };
}

/** Runs one `pulumi up` of a new commit over `n` VMs with gitleaks wrapped by a counter. */
async function countScans(work: string, fleet: Fleet, repo: SourceRepo, n: number): Promise<number> {
  const real = (await timed("sh", ["-c", "command -v gitleaks"])).stdout.trim();
  const wrapDir = path.join(work, "wrap");
  const counter = path.join(work, "gitleaks-calls");
  fs.mkdirSync(wrapDir, { recursive: true });
  fs.writeFileSync(path.join(wrapDir, "gitleaks"), `#!/bin/sh\n[ "$1" = dir ] && echo x >> '${counter}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  repo.commit({ "bench-scan.txt": `new commit ${Date.now()}\n` }, "scan count");
  const cfgPath = path.join(work, "cfg-scan.yml");
  fs.writeFileSync(cfgPath, stringify(fleetConfig(fleet, { repoPath: repo.path, repository: { push_targets: fleet.vms.slice(0, n).map((v) => v.id), adopt_existing: true } })));
  const project = await programProject(cfgPath);
  try {
    const env = { ...project.env, PATH: `${wrapDir}:${process.env.PATH}` };
    await must(timed("pulumi", ["up", "--yes", "--non-interactive"], { cwd: project.dir, env }), "pulumi up (scan count)");
  } finally {
    project.dispose();
  }
  return fs.existsSync(counter) ? fs.readFileSync(counter, "utf8").trim().split("\n").length : 0;
}

function machineFacts(): Record<string, unknown> {
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release() };
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

