// One Pulumi program that creates the VMs and syncs a git revision to them in the same `pulumi up`.
// The "VMs" here are local OpenSSH servers (vm.sh) made by @pulumi/command's local.Command, so that
// the example runs anywhere; with a cloud, `new aws.ec2.Instance(...)` takes their place and
// `hosts` gets `instance.publicIp`. RepoSync waits for each VM's address before it syncs to it.
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
/** Where the VMs keep their files and repo-sync its known_hosts. */
const vmDir = path.resolve(cfg.get("vmDir") ?? ".vms");
/** The VMs listen on 127.0.0.<firstOctet>, <firstOctet + 1>, ... */
const firstOctet = cfg.getNumber("firstOctet") ?? 161;
const count = cfg.getNumber("vmCount") ?? 2;

/** One shell word, whatever the path holds. */
const q = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

const ids = Array.from({ length: count }, (_, i) => `vm${String(i + 1).padStart(2, "0")}`);
const hosts = {};
for (const [i, id] of ids.entries()) {
  const address = `127.0.0.${firstOctet + i}`;
  const vm = new local.Command(id, {
    create: `./vm.sh up ${id} ${address} ${q(vmDir)} ${q(`${keyPath}.pub`)}`,
    delete: `./vm.sh down ${id} ${address} ${q(vmDir)}`,
    dir: __dirname,
  });
  hosts[id] = vm.stdout; // the VM's address, known once it exists
}

const app = new RepoSync("app", {
  // The same settings as configs/config.yml, inline; the hosts come from the resources above.
  config: {
    ssh: { key_path: keyPath, known_hosts_path: path.join(vmDir, "known_hosts"), connect_timeout_s: 5 },
    // Only the VMs to push to: the checkout is on this machine, which needs no entry.
    vms: Object.fromEntries(ids.map((id) => [id, { ssh_user: "root", post_sync_command: "echo \"$REPO_SYNC_REVISION\" >> ../deploys.log" }])),
    repository: {
      main_repo_path: repoPath,
      vm_repo_paths: Object.fromEntries(ids.map((id) => [id, path.join(vmDir, id, "files", "app")])),
      secret_scanning: { enabled: true, tool: "gitleaks", block_on_secrets: true },
    },
  },
  hosts,
});

exports.revision = app.revision;
exports.vms = app.vms;
