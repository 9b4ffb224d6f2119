import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { holdingProbeScript, parseMarker, parseTargetHeader, PROBE_DONE, probeScript, sessionScript } from "../../lib/target/script";
import { isOwnName } from "../../lib/config/ownFiles";

const HASH = "0123456789abcdef0123456789abcdef01234567";
const hex = (s: string) => `hex:${Buffer.from(s, "latin1").toString("hex")}`;

describe("target scripts (pure parsers, and the scripts themselves under /bin/sh on local folders)", () => {
  const markers: Array<[string, string, { marker: string; revision?: string }]> = [
    ["a hash and a newline", hex(`${HASH}\n`), { marker: "valid", revision: HASH }],
    ["a hash without newline", hex(HASH), { marker: "valid", revision: HASH }],
    ["a forged second line", hex(`garbage\nREV ${HASH}\n`), { marker: "malformed" }],
    ["a hash then a protocol line", hex(`${HASH}\nREADY\n`), { marker: "malformed" }],
    ["a literal backslash-n", hex(`${HASH}\\n`), { marker: "malformed" }],
    ["upper case", hex(`${HASH.toUpperCase()}\n`), { marker: "malformed" }],
    ["CRLF", hex(`${HASH}\r\n`), { marker: "malformed" }],
    ["empty file", "hex:", { marker: "malformed" }],
    ["odd hex (cut output)", "hex:abc", { marker: "malformed" }],
    ["a symlink", "symlink", { marker: "symlink" }],
    ["not a file", "notfile", { marker: "notfile" }],
    ["absent", "absent", { marker: "absent" }],
    ["unknown word", "weird", { marker: "malformed" }],
  ];
  for (const [name, field, want] of markers) {
    it(`parseMarker: ${name}`, () => assert.deepEqual(parseMarker(field), want));
  }

  it("parseTargetHeader reads STATE, REV and ERR lines", () => {
    assert.deepEqual(parseTargetHeader(`STATE managed\nREV ${hex(`${HASH}\n`)}\n`), { state: "managed", marker: "valid", revision: HASH });
    assert.deepEqual(parseTargetHeader("ERR symlink\n"), { state: "missing", marker: "absent", error: "symlink" });
  });

  it("isOwnName covers the marker, its temp names and every .repo-sync.* name, and nothing else", () => {
    for (const n of [".sync_rev", ".sync_rev.tmp", ".repo-sync.managed", ".repo-sync.lock", ".repo-sync.tmp.Ab12Cd"]) assert.equal(isOwnName(n), true, n);
    for (const n of ["sync_rev", ".sync_revision", ".repo-sync", "src", ".git", "a/.sync_rev"]) assert.equal(isOwnName(n), false, n);
  });

  describe("run by /bin/sh", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-script-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sh = (script: string, input = "") => spawnSync("/bin/sh", ["-c", script], { input, encoding: "utf8" });

    it("the probe reports a linked marker as a symlink and never reads through it", () => {
      const t = path.join(dir, "t");
      fs.mkdirSync(t);
      fs.writeFileSync(path.join(dir, "victim"), `${HASH}\n`);
      fs.symlinkSync(path.join(dir, "victim"), path.join(t, ".sync_rev"));
      const h = parseTargetHeader(sh(probeScript(t)).stdout);
      assert.deepEqual(h, { state: "managed", marker: "symlink" });
    });

    it("a folder is empty only when it holds nothing but a session's bookkeeping; a crafted name with a line break is one name", () => {
      const state = (names: string[]) => {
        const t = fs.mkdtempSync(path.join(dir, "c-"));
        for (const n of names) fs.writeFileSync(path.join(t, n), "x");
        return parseTargetHeader(sh(probeScript(t)).stdout).state;
      };
      assert.equal(state([]), "empty");
      assert.equal(state([".repo-sync.lock", ".repo-sync.session", ".repo-sync.xfer.a1B2c3"]), "empty");
      // `ls | grep -v -x` read this one name as two of ours, and called a foreign folder empty.
      assert.equal(state([".repo-sync.lock\n.repo-sync.lock"]), "foreign");
      for (const n of ["a", ".hidden", "..x", "-rf", "*", ".repo-sync.lockx"]) assert.equal(state([".repo-sync.lock", n]), "foreign", n);
    });

    it("the probe passes odd path characters literally (no glob, no word splitting, no command)", () => {
      for (const name of ["a b", "x;touch PWNED", "semi(1)#!&|<>", "ünï"]) {
        const t = path.join(dir, name);
        fs.mkdirSync(t);
        fs.writeFileSync(path.join(t, ".sync_rev"), `${HASH}\n`);
        assert.deepEqual(parseTargetHeader(sh(probeScript(t)).stdout), { state: "managed", marker: "valid", revision: HASH }, name);
      }
      assert.equal(fs.existsSync(path.join(dir, "PWNED")), false);
    });

    it("the session replaces planted links instead of writing through them, and locks the directory", () => {
      const t = path.join(dir, "t");
      fs.mkdirSync(t);
      fs.writeFileSync(path.join(dir, "victim"), "precious\n");
      for (const n of [".sync_rev", ".repo-sync.managed"]) fs.symlinkSync(path.join(dir, "victim"), path.join(t, n));
      const r = sh(sessionScript(t, 0), `go\ninvalidate\ncommit ${HASH}\n`);
      assert.equal(r.stdout.split("\n").slice(-3).join("|"), "OK|OK|", r.stdout + r.stderr);
      assert.equal(fs.readFileSync(path.join(dir, "victim"), "utf8"), "precious\n");
      assert.equal(fs.lstatSync(path.join(t, ".sync_rev")).isFile(), true);
      assert.equal(fs.readFileSync(path.join(t, ".sync_rev"), "utf8"), `${HASH}\n`);
      assert.equal(fs.statSync(path.join(t, ".sync_rev")).mode & 0o777, 0o644);
      assert.deepEqual(fs.readdirSync(t).sort(), [".repo-sync.managed", ".sync_rev"], "no temp file and no lock file left");
    });

    it("the session refuses a target path that is a symlink, and a second session waits for the lock", () => {
      const real = path.join(dir, "real");
      fs.mkdirSync(real);
      fs.symlinkSync(real, path.join(dir, "link"));
      assert.match(sh(sessionScript(path.join(dir, "link"), 0), "go\n").stdout, /^ERR symlink$/m);
      // Hold the lock in one shell while another session tries it with no wait.
      const r = sh(`cd ${JSON.stringify(real)} && exec 8<. && flock 8 && /bin/sh -c '${sessionScript(real, 0).replace(/'/g, "'\\''")}'`, "go\n");
      assert.match(r.stdout, /^ERR locked$/m);
    });

    it("a session that never gets `go` (the source was refused) leaves no trace: no folder, no lock", () => {
      const t = path.join(dir, "t");
      for (const input of ["", "stop\n", `commit ${HASH}\n`]) {
        const r = sh(sessionScript(t, 0), input);
        assert.equal(r.status, 0);
        assert.equal(r.stdout, "", JSON.stringify(input));
        assert.equal(fs.existsSync(t), false, JSON.stringify(input));
      }
    });

    it("the holding probe answers, then waits for stdin to close (the dry run's connection)", () => {
      const t = path.join(dir, "t");
      fs.mkdirSync(t);
      fs.writeFileSync(path.join(t, ".sync_rev"), `${HASH}\n`);
      const r = sh(holdingProbeScript(t), "");
      assert.equal(r.status, 0);
      assert.equal(r.stdout, `STATE managed\nREV hex:${Buffer.from(`${HASH}\n`).toString("hex")}\n${PROBE_DONE}\n`);
      assert.match(sh(holdingProbeScript(path.join(dir, "missing")), "").stdout, /^STATE missing\nREV absent\nDONE\n$/);
    });

    it("unmanage keeps the managed flag (a later run may take the tree back) and removes the marker", () => {
      const t = path.join(dir, "t");
      const r = sh(sessionScript(t, 0), `go\ncommit ${HASH}\nunmanage\n`);
      assert.match(r.stdout, /READY\nOK\nOK\n$/);
      assert.deepEqual(fs.readdirSync(t), [".repo-sync.managed"]);
      assert.equal(parseTargetHeader(sh(probeScript(t)).stdout).state, "managed");
    });
  });
});
