/**
 * The post-sync hook: `vms.<id>.post_sync_command` run on the VM by @pulumi/command's remote.Command
 * after that VM's tree landed (restart a service, reload a config).
 *
 * - When: once per new commit on that VM. Its trigger is the commit the target will hold (the resolved
 *   commit input, known in a preview), so a preview shows the hook's replacement exactly when `up`
 *   runs it: not on a no-change `up`, nor on a drift repair (the tree is put back to the commit the
 *   hook already ran for; the service saw that tree before), nor when only the way to the VM changes
 *   (key, port, user, host key: remote.Command's update runs its `update` command, here a no-op,
 *   where it would otherwise run `create` again). A new address, target path, layout or hook command
 *   (a VM, or a place, whose first sync this is) replaces it through `replacementTrigger`, which the
 *   engine records beside the state (adding it to a hook created before does not replace it).
 *   The hook waits for its target's step (`dependsOn`, and its inputs wait on the target's URN, which
 *   the SDK resolves once the step is done and rejects when it failed).
 * - Where: in the target directory, with `REPO_SYNC_REVISION` set from its `.sync_rev`, through the
 *   login shell of the ssh user; in the releases layout, after the switch, in the release's folder
 *   (`REPO_SYNC_RELEASE`).
 * - Trust: the same key as the sync and the host key pinned in the same known_hosts file (read after
 *   the sync, so a key the sync pinned on first use is the one enforced), or the VM's given `hostKey`
 *   as it is; a host with no pinned key is an error, never an unverified connection.
 * - Failure: the hook's resource fails, naming the VM (`<vm>-post-sync`) with the command's stderr; the
 *   tree and `.sync_rev` stay (they did land: the marker tells what the VM holds, not whether the hook
 *   ran), other VMs are not affected, and the next `up` runs the hook again (its resource was not
 *   created).
 */
import * as fs from "node:fs";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { findHostKeys, parseKnownHosts } from "../lib/config/knownHosts";
import type { Target } from "../lib/config/types";
import { parseHostKey } from "../lib/config/hostKey";
import { RepoSyncError } from "../lib/errors";
import { hookScript } from "../lib/sync/postSync";
import { resourceError, whenFailed } from "./resourceError";

export { hookScript } from "../lib/sync/postSync";

/** The known_hosts line's key (`ssh-ed25519 AAAA...`) that OpenSSH would accept for host:port. */
export function pinnedHostKey(knownHostsText: string, host: string, port: number): string | undefined {
  const entry = findHostKeys(parseKnownHosts(knownHostsText), host, port).find((e) => !e.revoked);
  return entry ? `${entry.keyType} ${entry.key}` : undefined;
}

/** What a hook needs of its target: how to reach it and what its sync lands. */
export interface HookTarget {
  target: Target;
  hook: string;
  /** The host (an Output when another stack or resource supplies it). */
  host: pulumi.Input<string>;
  port: pulumi.Input<number>;
  /** The login user (an Input when the program supplies it). */
  user: pulumi.Input<string>;
  /** The VM's given public host key (`hosts.<id>.hostKey`): used as it is, instead of a known_hosts line. */
  hostKey?: pulumi.Input<string>;
  /** The commit the target holds after its sync (the resolved commit, known in a preview): the hook's trigger. */
  commit: pulumi.Input<string>;
  /** Resolves once the target's step is done, rejects when it failed: the target's URN. */
  synced: pulumi.Output<string>;
  /** The resource a failure to set the hook up is reported on (the VM's target). */
  owner?: pulumi.Resource;
}

/** Declares the hook of one VM (resource `name`), run after `dependsOn` (its RepoSyncTarget). */
export function postSyncHook(name: string, h: HookTarget, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const t = h.target;
  // A failed sync (`up --continue-on-error`) fails the hook with one line of its own, on the component
  // (the target, failed, has no URN to log on), instead of the SDK's "failed to register" with a stack.
  const synced = whenFailed(h.synced, () => {
    throw resourceError(new RepoSyncError("transfer", "the post-sync hook did not run: the sync failed", {
      vm: t.vm, hint: "fix the sync's error; the next `pulumi up` syncs and runs the hook",
    }), opts.parent);
  });
  const commit = pulumi.all([h.commit, synced]).apply(([c]) => c);
  // A given key is the one the sync trusted. Else read when the sync is done: the key the sync itself
  // verified or pinned. A preview reads it too (so an unchanged key is no change); one the sync has yet
  // to pin is unknown there.
  const hostKey = h.hostKey !== undefined
    ? pulumi.output(h.hostKey).apply((k) => givenHostKey(k, t.vm, h.owner))
    : pulumi.all([h.host, h.port, synced]).apply(([host, port]) => {
      const key = pinnedHostKey(readOrEmpty(t.knownHostsPath), host, port);
      if (!key && pulumi.runtime.isDryRun()) return pulumi.unknown as unknown as string;
      if (!key) {
        const err = new RepoSyncError("host-key", `no host key for ${host}:${port} in ${t.knownHostsPath}; ` +
          "the post-sync hook does not connect to an unverified host", {
          vm: t.vm, hint: "pin the key with ssh-keyscan, as for the sync",
        });
        throw resourceError(err, h.owner);
      }
      return key;
    });
  return new command.remote.Command(
    name,
    {
      connection: {
        host: h.host,
        port: h.port,
        user: h.user,
        privateKey: pulumi.secret(fs.readFileSync(t.keyPath, "utf8")),
        hostKey,
        perDialTimeout: t.connectTimeoutS,
        dialErrorLimit: 3,
      },
      create: t.layout === "releases"
        ? commit.apply((rev) => hookScript(t.path, h.hook, rev))
        : hookScript(t.path, h.hook),
      // remote.Command runs this (else `create` again) when an input besides `triggers` changes; the
      // hook's own inputs are in `replacementTrigger`, so that is the connection only: no hook run.
      update: "true",
      triggers: [commit],
    },
    { ...opts, replacementTrigger: [h.host, t.path, t.layout ?? "in_place", h.hook] },
  );
}

/**
 * A given host key as remote.Command takes it (`type base64`, the comment dropped); an error on `owner`
 * when it is not one.
 */
function givenHostKey(text: string, vm: string, owner: pulumi.Resource | undefined): string {
  const parsed = parseHostKey(text);
  if ("problem" in parsed) {
    throw resourceError(new RepoSyncError("config", `hostKey ${parsed.problem}`, {
      vm, hint: "pass the VM's public host key, as for the sync",
    }), owner);
  }
  return `${parsed.key.type} ${parsed.key.blob}`;
}

function readOrEmpty(p: string): string {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return "";
  }
}
