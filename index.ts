/**
 * repo-sync's own Pulumi program: one {@link RepoSync} over configs/config.yml. Other programs import
 * the same component from the package (see examples/in-program).
 *
 * Stack config (namespace `repo-sync`):
 *   configPath   path of the YAML config (default configs/config.yml, relative to the project)
 *   branch       branch to deploy (default: repository.default_branch)
 *   ref          a branch, tag or commit SHA (full or a unique prefix) to deploy instead; not with branch
 *   force        any new value re-syncs every target even when it matches
 *   pull         "true": fetch the branch from origin (into origin/<branch>; the checkout stays as it
 *                is) and deploy origin's tip; default: the branch as the checkout holds it
 *   fullScan     "true": scan every file, not only those not found clean before
 *   removeOnDelete  "true": `pulumi destroy` removes the synced trees (default: only the markers)
 *   checksum     "true": probe by content (rsync --checksum)
 *   vmsStack     a stack that created the VMs (e.g. organization/vms/dev): its `vms` output,
 *                { vm01: { host, port? }, ... }, supplies the hosts of VMs whose `vms.<id>.host` is
 *                left out of the YAML. The targets wait on that stack's outputs.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./lib/config/load";
import type { Target } from "./lib/config/types";
import { RepoSyncError } from "./lib/errors";
import { type HostInput, type InternalArgs, RepoSync, type RepoSyncArgs } from "./providers/repoSync";
import { resourceError } from "./providers/resourceError";

/** VM addresses published by another stack (`vms` output). */
interface StackVm {
  host: string;
  port?: number;
}

/** Hosts for the VMs the YAML leaves without one, from the `vms` output of the stack that created them. */
function hostsFromStack(stack: string, targets: Target[]): Record<string, HostInput> {
  const all = new pulumi.StackReference(stack).requireOutput("vms") as pulumi.Output<Record<string, StackVm>>;
  const entry = (vm: string) =>
    all.apply((a) => {
      const e = a?.[vm];
      if (!e || typeof e.host !== "string") {
        const err = new RepoSyncError("config", `stack ${stack} does not export vms.${vm}.host (it exports: ${Object.keys(a ?? {}).join(", ") || "nothing"})`, { vm, hint: `add it there or set vms.${vm}.host in the YAML` });
        throw resourceError(err, undefined);
      }
      return e;
    });
  return Object.fromEntries(targets.map((t) => {
    const e = entry(t.vm); // one check per VM: a missing entry is reported once
    return [t.vm, { host: e.apply((v) => v.host), port: e.apply((v) => v.port ?? t.port) }];
  }));
}

export = () => {
  const cfg = new pulumi.Config("repo-sync");
  const configPath = path.resolve(cfg.get("configPath") ?? "configs/config.yml");
  const vmsStack = cfg.get("vmsStack");
  let hostless: Target[] = [];
  try {
    if (vmsStack) hostless = loadConfig(configPath, { hostsSupplied: true, checkLocalFiles: false }).targets.filter((t) => t.host === "");
  } catch (err) {
    throw resourceError(err, undefined);
  }
  // Both set: the fix is in the stack config, not in a component option.
  const [branch, ref] = [cfg.get("branch"), cfg.get("ref") || undefined];
  if (branch !== undefined && ref !== undefined) {
    const err = new RepoSyncError("config", `both branch ${JSON.stringify(branch)} and ref ${JSON.stringify(ref)} are set; set one of them`, {
      hint: "ref takes a branch too: `pulumi config rm repo-sync:branch` to deploy the ref, or `pulumi config rm repo-sync:ref` to deploy the branch",
    });
    throw resourceError(err, undefined);
  }
  const args: RepoSyncArgs & InternalArgs = {
    configPath,
    hosts: vmsStack ? hostsFromStack(vmsStack, hostless) : undefined,
    branch,
    // Set to "" counts as unset (`pulumi config rm` is the other way back to the branch).
    ref,
    pull: cfg.getBoolean("pull") === true,
    fullScan: cfg.getBoolean("fullScan") === true,
    force: cfg.get("force"),
    removeOnDelete: cfg.getBoolean("removeOnDelete") === true,
    checksum: cfg.getBoolean("checksum") === true,
    // Stacks deployed before the component existed keep their targets (no replacement).
    topLevelNames: true,
  };
  const sync = new RepoSync("repo-sync", args);
  return { revision: sync.revision, branch: sync.branch, ref: sync.ref, refKind: sync.refKind, targets: sync.vms };
};
