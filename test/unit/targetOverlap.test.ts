import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, parseConfigText } from "../../lib/config/load";
import { canonicalHost, treesOverlap } from "../../lib/config/overlap";
import type { ConfigProblem } from "../../lib/config/types";

// Two push targets on one machine with the same or nested folders: refused when the config loads,
// naming both VMs and both paths. Through the real loader, as a user's YAML.

const FILE = "/etc/repo-sync/config.yml";

/** A config with vm01 and vm02 (and the source vm04); `vm01`/`vm02` are YAML flow maps' insides. */
function yaml(vm01: string, vm02: string, p1: string, p2: string, ssh = ""): string {
  return [
    "ssh:",
    "  key_path: /keys/id_ed25519",
    "  known_hosts_path: /keys/known_hosts",
    ...(ssh ? [ssh] : []),
    "vms:",
    `  vm01: { ssh_user: thadmin, ${vm01} }`,
    `  vm02: { ssh_user: thadmin, ${vm02} }`,
    "  vm04: { host: 10.0.0.14, ssh_user: thadmin }",
    "repository:",
    "  source_vm: vm04",
    "  main_repo_path: /home/thadmin/app",
    "  vm_repo_paths:",
    `    vm01: ${p1}`,
    `    vm02: ${p2}`,
    "",
  ].join("\n");
}

/** The problems of a refused config, or [] when it loads. */
function problems(text: string, checkLocalFiles = false): ConfigProblem[] {
  try {
    parseConfigText(text, FILE, { checkLocalFiles, homeDir: "/home/thadmin" });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe("config: push targets on one machine must not share or nest their folders", () => {
  it("refuses equal and nested folders on one address, naming both VMs, both paths and the fix", () => {
    assert.deepEqual(problems(yaml("host: 10.0.0.5", "host: 10.0.0.5", "/x/app", "/x/app/staging")), [{
      key: "repository.vm_repo_paths.vm02",
      message: "vm02 (/x/app/staging) and vm01 (/x/app) are on one machine (both at [10.0.0.5]:22) and /x/app holds /x/app/staging: a sync of either would delete the other's files (rsync --delete), VM-local files included; give each its own folder side by side (e.g. /x/app and /x/app-staging), or list only one of them in push_targets",
    }]);
    const same = problems(yaml("host: 10.0.0.5", "host: 10.0.0.5", "/srv/app", "/srv/app"));
    assert.equal(same.length, 1);
    assert.match(same[0].message, /^vm02 \(\/srv\/app\) and vm01 \(\/srv\/app\) are on one machine \(both at \[10\.0\.0\.5\]:22\) and are the same folder: .*e\.g\. \/srv\/app and \/srv\/app-2/);
    // The outer one listed second.
    assert.match(problems(yaml("host: 10.0.0.5", "host: 10.0.0.5", "/x/app/staging/v2", "/x/app"))[0].message, /and \/x\/app holds \/x\/app\/staging\/v2:/);
  });

  it("recognises one host however it is written", () => {
    const table: [string, string][] = [
      ["host: app.example.com", "host: APP.Example.COM."],
      ["host: 127.0.0.1", "host: '127.1'"],
      ["host: 127.0.0.1", "host: 0x7f.0.0.1"],
      ["host: '::1'", "host: '0:0:0:0:0:0:0:1'"],
      ["host: 10.0.0.5, ssh_port: 22", "host: 10.0.0.5"],
      ["host: 10.0.0.5, jump_hosts: [bastion]", "host: 10.0.0.5, jump_hosts: ['thadmin@BASTION:22']"],
    ];
    for (const [a, b] of table) assert.equal(problems(yaml(a, b, "/x/app", "/x/app/staging")).length, 1, `${a} / ${b}`);
  });

  it("accepts side-by-side folders, other ports, other hops, and folders on other hosts", () => {
    const table: [string, string, string, string][] = [
      ["host: 10.0.0.5", "host: 10.0.0.5", "/x/app", "/x/app2"],
      ["host: 10.0.0.5", "host: 10.0.0.5", "/x/app", "/x/app-staging"],
      ["host: 10.0.0.5", "host: 10.0.0.5", "/x/app/a", "/x/app/b"],
      ["host: 10.0.0.5", "host: 10.0.0.5, ssh_port: 2222", "/x/app", "/x/app"],
      ["host: 10.0.0.5, jump_hosts: [bastion-a]", "host: 10.0.0.5, jump_hosts: [bastion-b]", "/x/app", "/x/app"],
      ["host: 10.0.0.5", "host: 10.0.0.6", "/srv/app", "/srv/app"],
    ];
    for (const [a, b, p1, p2] of table) assert.deepEqual(problems(yaml(a, b, p1, p2)), [], `${a} ${p1} / ${b} ${p2}`);
  });

  it("paths reach the comparison normal: a trailing slash, `//` or `.` is refused before", () => {
    for (const p of ["/x/app/", "/x//app", "/x/./app"]) {
      const found = problems(yaml("host: 10.0.0.5", "host: 10.0.0.5", "/x/app/staging", p));
      assert.equal(found.length, 1, p);
      assert.equal(found[0].key, "repository.vm_repo_paths.vm02");
      assert.doesNotMatch(found[0].message, /one machine/);
    }
  });

  it("one host key pinned for two addresses is one machine (checked with the local files)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rs-overlap-"));
    try {
      const key = path.join(dir, "id_ed25519");
      fs.writeFileSync(key, "not read here\n", { mode: 0o600 });
      const repo = path.join(dir, "repo");
      fs.mkdirSync(repo);
      const hostKey = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
      const other = "AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
      const knownHosts = path.join(dir, "known_hosts");
      const text = (vm02Key: string) => `10.0.0.5 ssh-ed25519 ${hostKey}\napp.internal ssh-ed25519 ${vm02Key}\n`;
      const cfg = yaml("host: 10.0.0.5", "host: app.internal", "/x/app", "/x/app/staging")
        .replace("/keys/id_ed25519", key)
        .replace("/keys/known_hosts", knownHosts)
        .replace("/home/thadmin/app", repo);
      fs.writeFileSync(knownHosts, text(hostKey));
      const found = problems(cfg, true);
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.match(found[0].message, /^vm02 \(\/x\/app\/staging\) and vm01 \(\/x\/app\) are on one machine \(both pinned to one ssh-ed25519 host key in known_hosts; if they are two machines cloned with one host key, give each its own/);
      fs.writeFileSync(knownHosts, text(other));
      assert.deepEqual(problems(cfg, true), []);
      fs.writeFileSync(knownHosts, `${text(other)}@revoked app.internal ssh-ed25519 ${hostKey}\n`);
      assert.deepEqual(problems(cfg, true), [], "a revoked key names no machine");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("pure parts: canonical hosts and nesting by whole segments", () => {
    assert.equal(canonicalHost("Example.COM."), "example.com");
    assert.equal(canonicalHost("127.1"), "127.0.0.1");
    assert.equal(canonicalHost("::0:1"), "::1");
    assert.equal(canonicalHost("not a host"), "not a host");
    assert.equal(treesOverlap("/x/app", "/x/app"), true);
    assert.equal(treesOverlap("/x/app", "/x/app/s"), true);
    assert.equal(treesOverlap("/x/app/s", "/x/app"), true);
    assert.equal(treesOverlap("/x/app", "/x/application"), false);
  });
});
