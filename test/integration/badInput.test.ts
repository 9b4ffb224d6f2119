import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { ConfigError, loadConfig } from "../../lib/config/load";
import { runCli } from "../support/cli";

/** The config document as the table edits it. */
interface Doc {
  ssh: Record<string, unknown>;
  vms?: Record<string, Record<string, unknown>> | string[];
  repository?: RepoDoc;
}
interface RepoDoc {
  vm_repo_paths: Record<string, string>;
  secret_scanning: Record<string, unknown>;
  [key: string]: unknown;
}
/** A VM's entry. */
const V = (d: Doc, id: string) => (d.vms as Record<string, Record<string, unknown>>)[id];
/** The repository section. */
const R = (d: Doc) => d.repository as RepoDoc;

/** One malformed input: how to break the config, and what the error must say. */
interface BadCase {
  name: string;
  /** Edits a valid config document in place, or returns raw file text. */
  edit: (doc: Doc, fleet: Fleet) => void | string;
  /** Must appear in stderr (key path and reason). */
  expect: RegExp;
}

const CASES: BadCase[] = [
  { name: "YAML that is not a mapping", edit: () => "- vm01\n- vm02\n", expect: /\(top level\): must be a mapping, got a list/ },
  { name: "empty file", edit: () => "", expect: /\(top level\): is missing/ },
  { name: "YAML syntax error", edit: () => "vms: {vm01: [\n", expect: /\(yaml\): / },
  { name: "duplicate keys", edit: () => "vms: {}\nvms: {}\n", expect: /\(yaml\): Map keys must be unique/ },
  { name: "missing vms section", edit: (d) => void delete d.vms, expect: /vms: is missing \(expected a mapping\)/ },
  { name: "missing repository section", edit: (d) => void delete d.repository, expect: /repository: is missing/ },
  { name: "vms is a list", edit: (d) => void (d.vms = ["vm01"]), expect: /vms: must be a mapping, got a list/ },
  { name: "port as a string", edit: (d) => void (V(d, "vm01").ssh_port = "22"), expect: /vms\.vm01\.ssh_port: must be an integer from 1 to 65535, got a string \("22"\)/ },
  { name: "port out of range", edit: (d) => void (V(d, "vm02").ssh_port = 70000), expect: /vms\.vm02\.ssh_port: must be an integer from 1 to 65535/ },
  { name: "timeout as a string", edit: (d) => void (d.ssh.connect_timeout_s = "10"), expect: /ssh\.connect_timeout_s: must be an integer/ },
  { name: "typo in a key", edit: (d) => { R(d).rsync_exclude = R(d).rsync_excludes; }, expect: /repository\.rsync_exclude: is not a known key \(did you mean `rsync_excludes`\?\)/ },
  { name: "unknown VM in vm_repo_paths", edit: (d) => void (R(d).vm_repo_paths.vm09 = "/srv/x/app"), expect: /repository\.vm_repo_paths\.vm09: names VM "vm09", which is not under vms/ },
  { name: "unknown VM in push_targets", edit: (d) => void (R(d).push_targets = ["vm01", "vm7"]), expect: /repository\.push_targets\[1\]: names VM "vm7", which is not under vms/ },
  { name: "disabled push target", edit: (d) => { V(d, "vm03").enabled = false; R(d).push_targets = ["vm01", "vm03"]; }, expect: /repository\.push_targets\[1\]: names VM vm03, which is disabled/ },
  { name: "push target without a path", edit: (d) => void delete R(d).vm_repo_paths.vm02, expect: /repository\.vm_repo_paths\.vm02: is missing: push target vm02 needs a target path/ },
  { name: "source VM not under vms", edit: (d) => void (R(d).source_vm = "vm99"), expect: /repository\.source_vm: names "vm99", which is not under vms/ },
  { name: "empty target path", edit: (d) => void (R(d).vm_repo_paths.vm01 = ""), expect: /repository\.vm_repo_paths\.vm01: "" is empty/ },
  { name: "relative target path", edit: (d) => void (R(d).vm_repo_paths.vm01 = "srv/app"), expect: /vm_repo_paths\.vm01: "srv\/app" is relative/ },
  { name: "target path /", edit: (d) => void (R(d).vm_repo_paths.vm01 = "/"), expect: /vm_repo_paths\.vm01: "\/" is the system directory \//},
  { name: "target path $HOME", edit: (d) => void (R(d).vm_repo_paths.vm01 = "$HOME/app"), expect: /vm_repo_paths\.vm01: "\$HOME\/app" contains a quote, backslash, `\$` or backtick/ },
  { name: "target path /home", edit: (d) => void (R(d).vm_repo_paths.vm01 = "/home"), expect: /vm_repo_paths\.vm01: "\/home" is the system directory/ },
  { name: "a home directory itself", edit: (d) => void (R(d).vm_repo_paths.vm01 = "/home/thadmin"), expect: /is the home directory \/home\/thadmin itself/ },
  { name: "path with ..", edit: (d) => void (R(d).vm_repo_paths.vm01 = "/srv/app/../../etc"), expect: /contains `\.` or `\.\.` segments/ },
  { name: "path with $(...)", edit: (d) => void (R(d).vm_repo_paths.vm01 = "/srv/$(touch /tmp/repo-sync-pwned)/app"), expect: /vm_repo_paths\.vm01: .* contains a quote, backslash, `\$` or backtick/ },
  { name: "path with a quote", edit: (d) => void (R(d).vm_repo_paths.vm01 = "/srv/it's/app"), expect: /contains a quote/ },
  { name: "path with a backtick", edit: (d) => void (R(d).vm_repo_paths.vm01 = "/srv/`id`/app"), expect: /contains a quote, backslash, `\$` or backtick/ },
  { name: "branch that looks like an option", edit: (d) => void (R(d).default_branch = "--upload-pack=touch /tmp/repo-sync-pwned"), expect: /repository\.default_branch: "--upload-pack=touch \/tmp\/repo-sync-pwned" starts with `-`/ },
  { name: "exclude that looks like an option", edit: (d) => void (R(d).rsync_excludes = ["-e ssh -oProxyCommand=touch /tmp/repo-sync-pwned"]), expect: /repository\.rsync_excludes\[0\]: .* starts with `-`, `\+` or `!`/ },
  { name: "host that looks like an option", edit: (d) => void (V(d, "vm01").host = "-oProxyCommand=touch /tmp/repo-sync-pwned"), expect: /vms\.vm01\.host: .* starts with `-`/ },
  { name: "user with shell characters", edit: (d) => void (V(d, "vm01").ssh_user = "root;id"), expect: /vms\.vm01\.ssh_user: "root;id" is not a valid login name/ },
  { name: "unsupported scanner", edit: (d) => void (R(d).secret_scanning.tool = "trufflehog"), expect: /repository\.secret_scanning\.tool: "trufflehog" is not supported/ },
  { name: "key file that does not exist", edit: (d) => void (d.ssh.key_path = "/nonexistent/id_ed25519"), expect: /ssh\.key_path: \/nonexistent\/id_ed25519 does not exist/ },
  { name: "key file with open permissions", edit: (d, fleet) => { const open = path.join(fleet.baseDir, "open_key"); fs.copyFileSync(fleet.clientKeyPath, open); fs.chmodSync(open, 0o644); d.ssh.key_path = open; }, expect: /ssh\.key_path: .*open_key is accessible by group or others \(mode 644\).*chmod 600/ },
  { name: "known_hosts without the host", edit: (d, fleet) => { const kh = path.join(fleet.baseDir, "partial_known_hosts"); fs.writeFileSync(kh, fs.readFileSync(fleet.knownHostsPath, "utf8").split("\n").filter((l) => !l.startsWith("127.0.0.82 ")).join("\n")); d.ssh.known_hosts_path = kh; }, expect: /vms\.vm02\.host: 127\.0\.0\.82:22 has no key in .*partial_known_hosts; add it with `ssh-keyscan -p 22 127\.0\.0\.82/ },
  { name: "bandwidth limit that is text", edit: (d) => void (R(d).bwlimit_kbps = "1M"), expect: /repository\.bwlimit_kbps: .*"1M"/ },
  { name: "bandwidth limit of zero on one VM", edit: (d) => void (V(d, "vm02").bwlimit_kbps = 0), expect: /vms\.vm02\.bwlimit_kbps: .*0/ },
  { name: "jump host whose key is not pinned", edit: (d) => void (d.ssh.jump_hosts = ["ops@127.0.0.99:2222"]), expect: /ssh\.jump_hosts\[0\]: jump host 127\.0\.0\.99:2222 has no key in .*ssh-keyscan -p 2222 127\.0\.0\.99/ },
  { name: "jump hosts that are not a list", edit: (d) => void (V(d, "vm01").jump_hosts = "bastion"), expect: /vms\.vm01\.jump_hosts: must be a list of jump hosts/ },
  { name: "owner without root on the VM", edit: (d) => void (R(d).owner = "www-data"), expect: /repository\.owner: needs root on vm01 to set ownership \(it logs in as \w+\): set vms\.vm01\.sudo: true/ },
  { name: "chmod that rsync would not take", edit: (d) => void (R(d).chmod = "777; rm -rf /"), expect: /repository\.chmod: "777; rm -rf \/" is not an rsync --chmod value/ },
  { name: "rsync path with a shell word", edit: (d) => void (R(d).rsync_path = "sudo rsync"), expect: /repository\.rsync_path: "sudo rsync" is not an absolute path/ },
  { name: "sudo that is not a boolean", edit: (d) => void (V(d, "vm02").sudo = "yes"), expect: /vms\.vm02\.sudo: / },
  { name: "huge file", edit: () => "# padding\n" + "#".repeat(2 * 1024 * 1024) + "\n", expect: /\(file\): is \d+ bytes; a config larger than 1048576 bytes is refused/ },
];

describe("bad input: a clear error naming the key, and no VM touched", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;

  before(async () => {
    fleet = await startFleet({ count: 3, firstOctet: 81 });
    repo = makeSourceRepo();
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
    fs.rmSync("/tmp/repo-sync-pwned", { force: true });
  });

  // The whole table through the loader, in-process: the message must name the key and the reason.
  for (const c of CASES) {
    it(c.name, () => {
      const file = writeBad(c);
      assert.throws(() => loadConfig(file), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.kind, "config");
        assert.match(e.message, c.expect);
        assert.match(e.message, /invalid configuration in .*bad\.yml/);
        return true;
      });
    });
  }

  // A handful end to end: the CLI exits 2 with the same message, and no VM is touched or command run.
  const END_TO_END = ["YAML syntax error", "port as a string", "path with $(...)", "host that looks like an option", "known_hosts without the host"];
  for (const c of CASES.filter((x) => END_TO_END.includes(x.name))) {
    it(`${c.name}: through the CLI, exit 2 and no VM touched`, async () => {
      const run = await runCli(["sync", "--config", writeBad(c)]);
      assert.equal(run.code, 2, `exit code; stderr: ${run.stderr}`);
      assert.match(run.stderr, c.expect);
      assert.match(run.stderr, /invalid configuration in .*bad\.yml/);
      for (const vm of fleet.vms) assert.equal(fs.existsSync(vm.targetPath), false, `${vm.id} was touched`);
      assert.equal(fs.existsSync("/tmp/repo-sync-pwned"), false, "nothing was executed");
    });
  }

  function writeBad(c: BadCase): string {
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as unknown as Doc;
    const raw = c.edit(doc, fleet);
    const file = path.join(fleet.baseDir, "bad.yml");
    fs.writeFileSync(file, typeof raw === "string" ? raw : stringify(doc));
    return file;
  }

  it("reports every problem at once", async () => {
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as unknown as Doc;
    V(doc, "vm01").ssh_port = "x";
    R(doc).vm_repo_paths.vm02 = "/";
    R(doc).default_branch = "-x";
    const file = path.join(fleet.baseDir, "bad.yml");
    fs.writeFileSync(file, stringify(doc));
    const run = await runCli(["sync", "--config", file]);
    assert.match(run.stderr, /\(3 problems\)/);
    assert.match(run.stderr, /vms\.vm01\.ssh_port/);
    assert.match(run.stderr, /repository\.vm_repo_paths\.vm02/);
    assert.match(run.stderr, /repository\.default_branch/);
  });

  it("a --branch that looks like an option is refused before git runs", async () => {
    const file = path.join(fleet.baseDir, "good.yml");
    fs.writeFileSync(file, stringify(fleetConfig(fleet, { repoPath: repo.path })));
    const run = await runCli(["sync", "--config", file, "--branch=--upload-pack=touch /tmp/repo-sync-pwned"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /branch "--upload-pack=touch \/tmp\/repo-sync-pwned" starts with `-`/);
    for (const vm of fleet.vms) assert.equal(fs.existsSync(vm.targetPath), false);
    assert.equal(fs.existsSync("/tmp/repo-sync-pwned"), false);
  });
});
