/**
 * The Pulumi program: reads configs/config.yml, resolves the desired commit once (pull, hash, secret
 * scan: once per run, not per VM), and declares one RepoSyncTarget per push target. A secret found
 * stops the run here, before any resource is registered, so no VM changes.
 *
 * Stack config (namespace `repo-sync`):
 *   configPath   path of the YAML config (default configs/config.yml, relative to the project)
 *   branch       branch to deploy (default: repository.default_branch)
 *   force        any new value re-syncs every target even when it matches
 *   pull         "false" to skip the pull from origin
 *   removeOnDelete  "true": `pulumi destroy` removes the synced trees (default: only the markers)
 *   vmsStack     a stack that created the VMs (e.g. organization/vms/dev): its `vms` output,
 *                { vm01: { host, port? }, ... }, supplies the hosts; `vms.<id>.host` may then be left
 *                out of the YAML. The targets wait on that stack's outputs.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./lib/config/load";
import type { Logger } from "./lib/log";
import { prepareSource } from "./lib/sync/prepareSource";
import type { Target } from "./lib/config/types";
import { cacheDir } from "./lib/paths";
import { normalizeInputs } from "./providers/inputs";
import { postSyncHook } from "./providers/postSyncHook";
import { probePlanPath, writeProbePlan } from "./providers/probePlan";
import { RepoSyncTarget } from "./providers/repoSyncTarget";

/** Messages from the program go to the engine (shown in preview/up output). */
const programLogger: Logger = {
  info: (m) => void pulumi.log.info(m),
  warn: (m) => void pulumi.log.warn(m),
  alert: (a) => {
    process.stderr.write(`${JSON.stringify({ level: "alert", time: new Date().toISOString(), ...a })}\n`);
    void pulumi.log.warn(`ALERT ${a.alert}: ${JSON.stringify(a)}`);
  },
};

/** The connection inputs of a target. */
function connection(t: Target) {
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    keyPath: t.keyPath,
    knownHostsPath: t.knownHostsPath,
    connectTimeoutS: t.connectTimeoutS,
    acceptNewHostKeys: t.acceptNewHostKeys,
    path: t.path,
  };
}

/** VM addresses published by another stack (`vms` output). */
interface StackVm {
  host: string;
  port?: number;
}

/** Reads `vms` from the stack that created the VMs; a VM it does not list is a clear error. */
function vmsFromStack(name: string) {
  const vms = new pulumi.StackReference(name).requireOutput("vms") as pulumi.Output<Record<string, StackVm>>;
  return <K extends keyof StackVm>(vm: string, key: K): pulumi.Output<StackVm[K]> =>
    vms.apply((all) => {
      const entry = all?.[vm];
      if (!entry || typeof entry.host !== "string") {
        throw new Error(`stack ${name} does not export vms.${vm}.host (it exports: ${Object.keys(all ?? {}).join(", ") || "nothing"}); add it there or set vms.${vm}.host in the YAML`);
      }
      return entry[key];
    });
}

export = async () => {
  const cfg = new pulumi.Config("repo-sync");
  const configPath = path.resolve(cfg.get("configPath") ?? "configs/config.yml");
  const vmsStack = cfg.get("vmsStack");
  const config = loadConfig(configPath, { hostsFromStack: vmsStack !== undefined });
  const fromStack = vmsStack ? vmsFromStack(vmsStack) : undefined;
  const source = await prepareSource(config.repository, {
    branch: cfg.get("branch"),
    pull: cfg.get("pull") !== "false",
    // Scan every file, not only those not found clean before (the record is rebuilt from it).
    fullScan: cfg.getBoolean("fullScan") === true,
    logger: programLogger,
  });
  const repo = config.repository;
  const force = cfg.get("force") ?? "";
  const removeOnDelete = cfg.getBoolean("removeOnDelete") ?? false;
  const checksum = cfg.getBoolean("checksum") ?? false;

  const common = {
    repoPath: repo.mainRepoPath,
    branch: source.branch,
    commit: source.commit,
    excludes: repo.rsyncExcludes,
    excludeDotGit: repo.excludeDotGit,
    secretScan: {
      enabled: repo.secretScanning.enabled,
      configPath: repo.secretScanning.configPath,
      blockOnSecrets: repo.secretScanning.blockOnSecrets,
      // Only when set: stacks that never used the option keep identical inputs (no diff on upgrade).
      ...(repo.secretScanning.ignoreInlineAllow ? { ignoreInlineAllow: true } : {}),
    },
    force,
    adoptExisting: repo.adoptExisting,
    maxDelete: repo.maxDelete,
    lockTimeoutS: repo.lockTimeoutS,
    ioTimeoutS: repo.ioTimeoutS,
    removeOnDelete,
    // Only when set, like ignoreInlineAllow: a probe option, not a change of what the target holds.
    ...(checksum ? { checksum: true } : {}),
  };
  // Every target whose address is known now is probed in one batch by the provider (see probePlan.ts).
  const probePlan = probePlanPath(cacheDir(), process.cwd(), pulumi.getStack());
  const known = config.targets.filter((t) => t.host !== "");
  writeProbePlan(probePlan, known.map((t) => normalizeInputs({ ...common, ...connection(t), vm: t.vm })));

  const targets: Record<string, { host: pulumi.Output<string>; path: pulumi.Output<string>; revision: pulumi.Output<string> }> = {};
  for (const t of config.targets) {
    // Hosts from the stack that created the VMs arrive as Outputs: the target waits on them.
    const address = fromStack && t.host === "" ? { host: fromStack(t.vm, "host"), port: fromStack(t.vm, "port").apply((p) => p ?? t.port) } : { host: t.host, port: t.port };
    const r = new RepoSyncTarget(t.vm, { ...connection(t), ...address, ...common, probePlan });
    targets[t.vm] = { host: r.host, path: r.path, revision: r.revision };
    if (t.postSyncCommand) postSyncHook({ target: t, hook: t.postSyncCommand, ...address, revision: r.revision }, { dependsOn: [r] });
  }
  return { revision: source.commit, branch: source.branch, targets };
};
