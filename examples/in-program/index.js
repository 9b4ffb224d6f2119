// @ts-check
// One Pulumi program that creates the VMs and syncs a git revision to them in the same `pulumi up`.
// The "VMs" here are local OpenSSH servers (vm.sh) made by @pulumi/command's local.Command, so that
// the example runs anywhere; with a cloud, `new aws.ec2.Instance(...)` takes their place and
// `vms.<id>` gets `host: instance.publicIp` and the instance's host key. RepoSync waits for each VM's address
// and key before it syncs to it, and trusts exactly that key: no known_hosts file is needed.
"use strict";
const path = require("node:path");
const os = require("node:os");
const pulumi = require("@pulumi/pulumi");
const { local } = require("@pulumi/command");
const { RepoSync } = require("repo-sync");

const cfg = new pulumi.Config();
/** The source checkout on this machine: what is deployed is its branch tip. */
const repoPath = path.resolve(cfg.require("repoPath"));
/** Your SSH key (its `.pub` is authorized on the VMs). */
const keyPath = path.resolve(cfg.get("keyPath") ?? path.join(os.homedir(), ".ssh", "id_ed25519"));
/** Where the VMs keep their files. */
const vmDir = path.resolve(cfg.get("vmDir") ?? ".vms");
/** The VMs listen on 127.0.0.<firstOctet>, <firstOctet + 1>, ... */
const firstOctet = cfg.getNumber("firstOctet") ?? 161;
const count = cfg.getNumber("vmCount") ?? 2;

/** One shell word, whatever the path holds. @param {string} s */
const q = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

const ids = Array.from({ length: count }, (_, i) => `vm${String(i + 1).padStart(2, "0")}`);
/** @type {Record<string, import("repo-sync").VmArgs>} */
const vms = {};
for (const [i, id] of ids.entries()) {
  const address = `127.0.0.${firstOctet + i}`;
  const vm = new local.Command(id, {
    create: `./vm.sh up ${id} ${address} ${q(vmDir)} ${q(`${keyPath}.pub`)}`,
    delete: `./vm.sh down ${id} ${address} ${q(vmDir)}`,
    dir: __dirname,
  });
  // vm.sh prints the VM's address, then its public host key: both known once it exists.
  const [host, hostKey] = [0, 1].map((line) => vm.stdout.apply((out) => out.split("\n")[line]));
  vms[id] = { host, hostKey, sshUser: "root", postSyncCommand: "echo \"$REPO_SYNC_REVISION\" >> ../deploys.log" };
}

// The settings of configs/config.yml, typed (camelCase); the hosts and their keys come from the resources above.
const app = new RepoSync("app", {
  // No knownHostsPath: every VM comes with its host key.
  ssh: { keyPath, connectTimeoutS: 5 },
  // Only the VMs to push to: the checkout is on this machine, which needs no entry.
  vms,
  repository: {
    mainRepoPath: repoPath,
    vmRepoPaths: Object.fromEntries(ids.map((id) => [id, path.join(vmDir, id, "files", "app")])),
    secretScanning: { enabled: true, blockOnSecrets: true },
  },
  // A tag or a commit SHA to deploy instead of the branch's tip (rolling back is an old SHA).
  ref: cfg.get("ref"),
});

exports.revision = app.revision;
exports.vms = app.vms;
