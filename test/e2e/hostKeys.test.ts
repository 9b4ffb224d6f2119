/**
 * `hosts.<id>.hostKey` through the real engine, the real provider and the real command plugin: VMs
 * given with their public host keys (as Outputs) and no known_hosts file anywhere (HOME is an empty
 * folder, `ssh.known_hosts_path` is left out, the fleet's own file is removed). One stack for every
 * case: deploy and hook with the keys, a wrong key refused on its VM alone, a VM without a key on the
 * known_hosts route, the right key again, destroy.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { cachePath } from "../../lib/paths";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { PROJECT_ROOT, projectFromFixture, PulumiProject } from "../../tools/pulumiCli";
import { syncRev } from "../support/e2e";

const FIRST_OCTET = 170;
const VMS = ["vm01", "vm02"];

describe("hosts.<id>.hostKey: VMs pinned by the keys their resources give, no known_hosts (real engine, real plugin)", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;
  let home: string;
  let logs: string;
  let first: string;
  let next: string;
  const read = (vm: string, p: string) => fs.readFileSync(path.join(fleet.vm(vm).targetPath, p), "utf8");
  const log = (vm: string) => (fs.existsSync(path.join(logs, `${vm}.log`)) ? fs.readFileSync(path.join(logs, `${vm}.log`), "utf8").trim().split("\n") : []);
  /** Every known_hosts file a run could have read or written: the default one and the fleet's. */
  const knownHostsFiles = () => [path.join(home, ".ssh", "known_hosts"), fleet.knownHostsPath].filter((f) => fs.existsSync(f));

  /** Sets the program's `hosts` (stack config), each VM with its own key unless `keys` says otherwise. */
  function setHosts(keys: Record<string, string | undefined> = {}): void {
    const file = path.join(project.dir, "Pulumi.dev.yaml");
    const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const hosts = Object.fromEntries(VMS.map((vm) => {
      const key = vm in keys ? keys[vm] : fleet.vm(vm).hostPublicKey;
      return [vm, { host: fleet.vm(vm).host, port: fleet.vm(vm).port, ...(key !== undefined ? { hostKey: key } : {}) }];
    }));
    doc.config = { ...doc.config, "repo-sync-host-keys:hosts": hosts };
    fs.writeFileSync(file, stringify(doc));
  }

  before(async function () {
    if (spawnSync("sh", ["-c", "command -v pulumi-resource-command"]).status !== 0) {
      throw new Error("pulumi-resource-command is not on PATH: run ./run.sh setup (see its warning for what is missing)");
    }
    fleet = await startFleet({ count: VMS.length, firstOctet: FIRST_OCTET });
    fs.rmSync(fleet.knownHostsPath); // nothing may lean on it
    repo = makeSourceRepo();
    first = repo.head();
    home = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-home-"));
    logs = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-hostkey-hooks-"));
    fs.chmodSync(logs, 0o777);
    const doc = fleetConfig(fleet, { repoPath: repo.path, vms: Object.fromEntries(VMS.map((vm) => [vm, { post_sync_command: `echo "$REPO_SYNC_REVISION" >> ${logs}/${vm}.log` }])) }) as {
      ssh: Record<string, unknown>; vms: Record<string, Record<string, unknown>>; repository: Record<string, unknown>;
    };
    // As a program that creates its VMs writes it: no known_hosts, no hosts, no source VM.
    delete doc.ssh.known_hosts_path;
    delete doc.vms.source;
    delete doc.repository.source_vm;
    for (const vm of VMS) delete doc.vms[vm].host;
    const cfg = path.join(fleet.baseDir, "config.yml");
    fs.writeFileSync(cfg, stringify(doc));
    project = projectFromFixture(path.join(PROJECT_ROOT, "test", "e2e", "fixtures", "hostKeys"));
    Object.assign(project.env, { REPO_SYNC_DIST: path.join(PROJECT_ROOT, "dist"), HOME: home });
    await project.init();
    await project.ok(["config", "set", "configPath", cfg]);
    setHosts();
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    for (const d of [repo?.path, home, logs]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it("deploys to every VM with its hostKey and no known_hosts file; each hook connects with its VM's key", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    for (const vm of VMS) {
      assert.equal(syncRev(fleet, vm), `${first}\n`, vm);
      assert.equal(read(vm, "src/app.py"), "print('hello from th_timmy')\n");
      assert.deepEqual(log(vm), [first], `${vm}'s hook ran, over a connection that trusted only the given key`);
    }
    assert.deepEqual(knownHostsFiles(), [], "no known_hosts file was needed, none was created");
    // What the connections trusted: one private line per VM under repo-sync's cache, and the hooks' hostKey input.
    const pinDir = path.join(cachePath(), "host-keys");
    const pins = fs.readdirSync(pinDir).map((f) => fs.readFileSync(path.join(pinDir, f), "utf8"));
    const state = await project.exportState();
    for (const vm of VMS) {
      assert.ok(pins.includes(`${fleet.vm(vm).host} ${fleet.vm(vm).hostPublicKey}\n`), `${vm}'s key is pinned`);
      const hook = state.deployment.resources?.find((r) => r.urn.endsWith(`::app-${vm}-post-sync`));
      // The connection holds the private key: the whole object is a secret ({ plaintext } with --show-secrets).
      const connection = JSON.parse((hook?.inputs?.connection as { plaintext: string }).plaintext) as { hostKey?: string };
      assert.equal(connection.hostKey, fleet.vm(vm).hostPublicKey);
    }
  });

  it("a wrong hostKey is refused as a changed host key naming the VM: nothing moves there, the other VM converges", async () => {
    const marker = fs.statSync(path.join(fleet.vm("vm02").targetPath, ".sync_rev"));
    next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    setHosts({ vm02: fleet.vm("vm01").hostPublicKey }); // another machine's key: what a man in the middle would show
    const up = await project.run(["up", "--yes", "--skip-preview", "--continue-on-error"]);
    const out = up.stdout + up.stderr;
    assert.notEqual(up.code, 0);
    assert.match(out, new RegExp(`vm02: the host key of reposync@127\\.0\\.0\\.${FIRST_OCTET + 1}:22 has changed: it is not the hostKey given for vm02 \\(ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}\\); the VM shows ED25519 SHA256:[A-Za-z0-9+/]{43}; refused`));
    assert.doesNotMatch(out, /^\s+at .+:\d+:\d+\)?$/m, "no stack trace");
    assert.equal(syncRev(fleet, "vm01"), `${next}\n`);
    assert.equal(read("vm01", "src/app.py"), "print('v2')\n");
    assert.deepEqual(log("vm01"), [first, next]);
    assert.equal(syncRev(fleet, "vm02"), `${first}\n`, "vm02's marker is unchanged");
    assert.equal(fs.statSync(path.join(fleet.vm("vm02").targetPath, ".sync_rev")).ino, marker.ino, "not even rewritten");
    assert.equal(read("vm02", "src/app.py"), "print('hello from th_timmy')\n", "no byte moved on vm02");
    assert.deepEqual(log("vm02"), [first], "vm02's hook did not run");
    assert.deepEqual(knownHostsFiles(), []);
  });

  it("a VM given without a key goes the known_hosts route: with no file, the error names the file and the fix", async () => {
    setHosts({ vm02: undefined });
    const preview = await project.run(["preview"]);
    const out = preview.stdout + preview.stderr;
    assert.match(out, new RegExp(`vm02: the host key of reposync@127\\.0\\.0\\.${FIRST_OCTET + 1}:22 is not in ${home}/\\.ssh/known_hosts\\n\\s+fix: check the VM's fingerprint, then \`ssh-keyscan`));
    assert.deepEqual(knownHostsFiles(), [], "nothing was trusted on first use");
    assert.equal(syncRev(fleet, "vm02"), `${first}\n`);
  });

  it("with the right key again vm02 converges and its hook runs; refresh and destroy connect with the keys in state", async () => {
    setHosts();
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(syncRev(fleet, "vm02"), `${next}\n`);
    assert.equal(read("vm02", "src/app.py"), "print('v2')\n");
    assert.deepEqual(log("vm02"), [first, next]);
    fs.writeFileSync(path.join(fleet.vm("vm01").targetPath, "src/app.py"), "hand edit\n");
    await project.ok(["refresh", "--yes", "--skip-preview"]);
    const vm01 = (await project.exportState()).deployment.resources?.find((r) => r.urn.endsWith("::app-vm01"));
    assert.deepEqual((vm01?.outputs?.drift as { modified?: string[] } | undefined)?.modified, ["src/app.py"], "refresh read vm01's tree over the pinned connection");
    await project.ok(["destroy", "--yes", "--skip-preview"]);
    for (const vm of VMS) {
      assert.equal(syncRev(fleet, vm), undefined, `${vm}'s marker is removed`);
      assert.equal(read(vm, "src/app.py"), vm === "vm01" ? "hand edit\n" : "print('v2')\n", "the tree stays");
    }
    assert.deepEqual(knownHostsFiles(), []);
  });
});
