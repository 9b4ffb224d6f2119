import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { canConnect, Fleet, isAlive, startFleet } from "../../tools/fleet/fleet";

/** rsync over ssh to one VM with the fleet's strict options; returns the exit status and stderr. */
function rsyncTo(fleet: Fleet, id: string, src: string, dest: string): { status: number | null; stderr: string } {
  const vm = fleet.vm(id);
  const ssh = ["ssh", ...fleet.sshArgs(id)].join(" ");
  const r = spawnSync("rsync", ["-a", "--delete", "--mkpath", "-e", ssh, `${src}/`, `${vm.host}:${dest}/`], { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

describe("test fleet (real sshd per VM on loopback)", function () {
  this.timeout(60_000);
  let fleet: Fleet;
  let src: string;

  before(async () => {
    fleet = await startFleet({ count: 3 });
    src = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-src-"));
    fs.writeFileSync(path.join(src, "hello.txt"), "hello fleet\n");
    fs.mkdirSync(path.join(src, "sub"));
    fs.writeFileSync(path.join(src, "sub", "data.bin"), Buffer.alloc(10_000, 7));
  });

  after(async () => {
    await fleet?.stop();
    fs.rmSync(src, { recursive: true, force: true });
  });

  it("starts 3 VMs on their own loopback addresses", async () => {
    assert.deepEqual(fleet.vms.map((v) => v.host), ["127.0.0.11", "127.0.0.12", "127.0.0.13"]);
    for (const vm of fleet.vms) assert.equal(await canConnect(vm.host, vm.port), true, vm.id);
    const known = fs.readFileSync(fleet.knownHostsPath, "utf8").trim().split("\n");
    assert.equal(known.length, 3);
    assert.match(known[0], /^127\.0\.0\.11 ssh-ed25519 AAAA/);
  });

  it("rsyncs to each VM over ssh with StrictHostKeyChecking=yes", () => {
    for (const vm of fleet.vms) {
      const r = rsyncTo(fleet, vm.id, src, vm.targetPath);
      assert.equal(r.status, 0, `${vm.id}: ${r.stderr}`);
      assert.equal(fs.readFileSync(path.join(vm.targetPath, "hello.txt"), "utf8"), "hello fleet\n");
      assert.deepEqual(fs.readFileSync(path.join(vm.targetPath, "sub", "data.bin")), Buffer.alloc(10_000, 7));
      // The files belong to the VM's login user, not to the test runner.
      assert.equal(fs.statSync(path.join(vm.targetPath, "hello.txt")).uid, Number(execFileSync("id", ["-u", vm.user], { encoding: "utf8" })));
    }
  });

  it("refuses a host whose key is not the pinned one", async () => {
    await fleet.replaceHostKey("vm02");
    const r = rsyncTo(fleet, "vm02", src, fleet.vm("vm02").targetPath + "-other");
    // rsync reports a dead ssh as 255 or, when it notices the broken stream first, as 12.
    assert.ok(r.status === 255 || r.status === 12, `exit ${r.status}`);
    assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    assert.equal(fs.existsSync(fleet.vm("vm02").targetPath + "-other"), false);
    fleet.writeKnownHosts();
    assert.equal(rsyncTo(fleet, "vm02", src, fleet.vm("vm02").targetPath).status, 0);
  });

  it("a killed VM refuses connections and comes back on restart", async () => {
    await fleet.killVm("vm03");
    assert.equal(fleet.isRunning("vm03"), false);
    assert.equal(await canConnect("127.0.0.13", fleet.vm("vm03").port), false);
    const r = rsyncTo(fleet, "vm03", src, fleet.vm("vm03").targetPath);
    assert.ok(r.status === 255 || r.status === 12, `exit ${r.status}`);
    assert.match(r.stderr, /Connection refused/);
    await fleet.startVm("vm03");
    assert.equal(rsyncTo(fleet, "vm03", src, fleet.vm("vm03").targetPath).status, 0);
  });

  it("an address another process already holds is refused, naming the holder (never answered in our sshd's place)", async () => {
    // Port 22 as root (the fleet's), 2222 otherwise; octet 254 belongs to this case only.
    const port = process.getuid?.() === 0 ? 22 : 2222;
    const squatter = net.createServer((c) => {
      c.on("error", () => undefined); // the harness hangs up at once
      c.end("SSH-2.0-stray\r\n");
    });
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.254", resolve));
    try {
      await assert.rejects(startFleet({ count: 1, firstOctet: 254 }), (err: Error) => {
        assert.match(err.message, new RegExp(`^127\\.0\\.0\\.254:${port} \\(vm01\\) is already held by another process \\(pid ${process.pid}, [^)]+\\)`));
        return true;
      });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("teardown leaves no sshd running", async () => {
    const other = await startFleet({ count: 2, firstOctet: 41 });
    const pids = other.livePids();
    assert.ok(pids.length >= 2);
    await other.stop();
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
    assert.equal(fs.existsSync(other.baseDir), false);
  });
});
