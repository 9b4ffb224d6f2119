import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Target } from "../../lib/config/types";
import { hostKeyFingerprint, invalidHostKeyReason, parseHostKey, pinnedKnownHostsLine } from "../../lib/config/hostKey";
import { pinnedKnownHostsFile, withPinnedHostKey } from "../../lib/remote/pinnedHostKey";
import { connectionFailure } from "../../lib/remote/sshErrors";
import { targetOptions } from "../../lib/remote/sshOptions";
import { sshOptionArgs } from "../../lib/remote/sshArgs";
import { decideDiff, normalizeInputs, toTarget, validateInputs } from "../../providers/inputs";
import { probeKey } from "../../providers/probePlan";
import { loadSettings } from "../../providers/repoSync";

/** Public keys as `ssh-keygen` (OpenSSH 9.2) writes them in `*.pub`, comment dropped. */
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYZgabCX4gQ+mp4oHkyGjv5pqwCJqxzQg8JJ6SVPq52";
const P256 = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBD9oeq6lkELQc42SOmC2N0glfoaWtHp7bPXWL6RDNSzN5kNNtuTENutJARzS/hM7gSWkkVVRgYfguer715h3uaA=";
const P384 = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBOr14kz+sSJCRxbgcD2g2CqwPAEYCny8KIwsMz687omKBKFibQR7+3gnlz/eu5m4DVtL9pgLPAPh51h0i0J/Za/hsqbx+KNybK9/OOZxJjH3jadmFsW2XkaIqcXbg5niuw==";
const P521 = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAHhPHB9S01xXLmkZssWk9I3reCF1F7gu/C67QBg6pzY+gCU0+JPCk3cokBR/mFUIEliugfAq6cA1Peem0bUbtK7DAHrkxoP5yF+/na1qCL/qRBWnmmEkTH9YTiVObWQzGsvGNXw+2ItyguYRRRv/rXb/9Tn9/E/eCsQpbMr3S/Dy09fyQ==";
const RSA1024 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCp+dMmg3R4Z21MDlFOEtGd4o5sygiajbT+nRSBhnYkCYmtSuYax4eXQDNCwbsrSmcPBIod6Q2lLPTy6Vl0gin1xfH+2cRQHeP5F/R4N9WfiRXf6AdWJwKemMFqOxpWE3En8kPqxoY4MQBhncfBGYOZt1aO00g+8Kb3AO1XJeBg9w==";

/** A key blob from SSH wire `string`s (crafted keys: `ssh-keygen -l` reads the good ones, refuses the bad). */
function blob(...fields: Array<string | Buffer>): string {
  return Buffer.concat(fields.map((f) => {
    const b = typeof f === "string" ? Buffer.from(f, "latin1") : f;
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length);
    return Buffer.concat([n, b]);
  })).toString("base64");
}
const ED_PK = Buffer.from(ED25519.split(" ")[1], "base64").subarray(19);
/** P256's point: after the type (4 + 19 bytes), the curve name (4 + 8) and the point's length (4). */
const P256_Q = Buffer.from(P256.split(" ")[1], "base64").subarray(39);
const SK_ED = `sk-ssh-ed25519@openssh.com ${blob("sk-ssh-ed25519@openssh.com", ED_PK, "ssh:")}`;
const SK_P256 = `sk-ecdsa-sha2-nistp256@openssh.com ${blob("sk-ecdsa-sha2-nistp256@openssh.com", "nistp256", P256_Q, "ssh:")}`;

const GOOD: Array<[string, string, string]> = [
  ["ed25519", ED25519, "ssh-ed25519"],
  ["ed25519 with a comment", `${ED25519} root@vm01`, "ssh-ed25519"],
  ["a comment with spaces, surrounding blanks", `  ${ED25519}\troot@vm01 (created 2024)  `, "ssh-ed25519"],
  ["ecdsa nistp256", P256, "ecdsa-sha2-nistp256"],
  ["ecdsa nistp384", P384, "ecdsa-sha2-nistp384"],
  ["ecdsa nistp521", `${P521} vm`, "ecdsa-sha2-nistp521"],
  ["rsa 1024", RSA1024, "ssh-rsa"],
  ["security key ed25519", SK_ED, "sk-ssh-ed25519@openssh.com"],
  ["security key ecdsa", SK_P256, "sk-ecdsa-sha2-nistp256@openssh.com"],
];

const ED_BLOB = ED25519.split(" ")[1];
const BAD: Array<[string, unknown, RegExp]> = [
  ["empty", "", /^is empty/],
  ["blanks only", "  \t ", /^is empty/],
  ["not a string", 42, /^is a number, not a string/],
  ["newline injection (a second key on a second line)", `${ED25519}\n${P256}`, /^holds a line break/],
  ["newline injection in the comment", `${ED25519} vm01\n@revoked * ${P256}`, /^holds a line break/],
  ["trailing newline", `${ED25519}\n`, /^holds a line break.*trim a trailing newline/],
  ["carriage return", `${ED25519}\r`, /^holds a line break/],
  ["NUL in the comment", `${ED25519} vm\u000001`, /^holds control characters/],
  ["@revoked marker", `@revoked ${ED25519}`, /^starts with the known_hosts marker "@revoked"/],
  ["@cert-authority marker with a pattern", `@cert-authority *.example.com ${ED25519}`, /^starts with the known_hosts marker "@cert-authority"/],
  ["a known_hosts line (host pattern first)", `10.0.0.1,vm01 ${ED25519}`, /^starts with host names, patterns or options \("10\.0\.0\.1,vm01"\)/],
  ["a wildcard pattern", `* ${ED25519}`, /^starts with host names, patterns or options \("\*"\)/],
  ["a hashed known_hosts name", `|1|bfbOrLXh0zNGOEimDjvT9NTXsqo=|IXS7Me37qwLKcU9z6jZNkGc2d5M= ${ED25519}`, /^starts with host names/],
  ["authorized_keys options", `command="rm -rf /" ${ED25519}`, /^starts with host names, patterns or options/],
  ["unknown type", `ssh-foo ${ED_BLOB}`, /^starts with "ssh-foo", not a host key type/],
  ["ssh-dss (gone from OpenSSH)", `ssh-dss ${blob("ssh-dss", "p", "q", "g", "y")}`, /not a host key type/],
  ["a certificate", `ssh-ed25519-cert-v01@openssh.com ${ED_BLOB}`, /not a host key type/],
  ["type only", "ssh-ed25519", /^has no key data after ssh-ed25519/],
  ["not base64", `ssh-ed25519 ${ED_BLOB.slice(0, -4)}*@#!`, /not base64 as OpenSSH writes it/],
  ["base64 without its padding", P256.replace(/=$/, ""), /not base64/],
  ["mismatched inner type (rsa data called ed25519)", `ssh-ed25519 ${RSA1024.split(" ")[1]}`, /^says ssh-ed25519 but its key data is a "ssh-rsa" key/],
  ["mismatched inner type (ed25519 data called rsa)", `ssh-rsa ${ED_BLOB}`, /^says ssh-rsa but its key data is a "ssh-ed25519" key/],
  ["mismatched curve", `ecdsa-sha2-nistp256 ${blob("ecdsa-sha2-nistp256", "nistp384", P256_Q)}`, /its curve is "nistp384", not nistp256/],
  ["short point", `ecdsa-sha2-nistp256 ${blob("ecdsa-sha2-nistp256", "nistp256", P256_Q.subarray(0, 33))}`, /point is not 65 bytes/],
  ["a point off the curve", `ecdsa-sha2-nistp256 ${blob("ecdsa-sha2-nistp256", "nistp256", Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]))}`, /its point is not on nistp256/],
  ["compressed point", `ecdsa-sha2-nistp256 ${blob("ecdsa-sha2-nistp256", "nistp256", Buffer.concat([Buffer.from([2]), Buffer.alloc(64)]))}`, /uncompressed/],
  ["ed25519 key of 31 bytes", `ssh-ed25519 ${blob("ssh-ed25519", ED_PK.subarray(1))}`, /not 32 bytes/],
  ["bytes after the key", `ssh-ed25519 ${blob("ssh-ed25519", ED_PK, "x")}`, /bytes after the key/],
  ["truncated blob", `ssh-ed25519 ${Buffer.from(ED_BLOB, "base64").subarray(0, 30).toString("base64")}`, /not 32 bytes/],
  ["a length field past the end", `ssh-ed25519 ${Buffer.from([0, 0, 0, 200, 1, 2, 3, 4]).toString("base64")}`, /key data is not an SSH key/],
  ["rsa of 512 bits", `ssh-rsa ${blob("ssh-rsa", Buffer.from([1, 0, 1]), Buffer.concat([Buffer.from([0x40]), Buffer.alloc(63, 1)]))}`, /about 512 bits/],
  ["rsa with a negative modulus", `ssh-rsa ${blob("ssh-rsa", Buffer.from([1, 0, 1]), Buffer.alloc(128, 0xff))}`, /exponent or modulus is malformed/],
  ["security key without its application", `sk-ssh-ed25519@openssh.com ${blob("sk-ssh-ed25519@openssh.com", ED_PK)}`, /application is missing/],
  ["huge", `ssh-ed25519 ${"A".repeat(9000)}`, /characters long/],
];

describe("host keys given by the program (pure: parse, validate, pin)", () => {
  for (const [name, text, type] of GOOD) {
    it(`accepts ${name}`, () => {
      const r = parseHostKey(text);
      assert.ok("key" in r, JSON.stringify(r));
      assert.equal(r.key.type, type);
      assert.equal(`${r.key.type} ${r.key.blob}`, text.trim().split(/\s+/).slice(0, 2).join(" "), "the comment is dropped, the key kept as written");
    });
  }
  for (const [name, text, why] of BAD) {
    it(`refuses ${name}`, () => assert.match(invalidHostKeyReason(text) ?? "(accepted)", why));
  }

  it("fingerprints a key as ssh-keygen -l does", () => {
    const k = parseHostKey(ED25519);
    assert.ok("key" in k);
    assert.equal(hostKeyFingerprint(k.key), "SHA256:0qM9HLZoN7Uey8a63rKNZpRAsC6cYGQLgU8bhKFzx7A");
  });

  it("builds the known_hosts line as OpenSSH writes it: host on port 22, [host]:port otherwise, lower case", () => {
    const k = parseHostKey(`${ED25519} comment`);
    assert.ok("key" in k);
    const cases: Array<[string, number, string]> = [
      ["10.0.0.11", 22, "10.0.0.11"],
      ["10.0.0.11", 2222, "[10.0.0.11]:2222"],
      ["VM01.Example.COM", 22, "vm01.example.com"],
      ["fd00::11", 22, "fd00::11"],
      ["fd00::11", 2200, "[fd00::11]:2200"],
    ];
    for (const [host, port, name] of cases) assert.equal(pinnedKnownHostsLine(host, port, k.key), `${name} ${ED25519}\n`, `${host}:${port}`);
  });
});

describe("connecting with a given host key (argv, files, errors)", () => {
  const base: Target = { vm: "vm01", host: "10.0.0.11", port: 2222, user: "deploy", keyPath: "/k/id", knownHostsPath: "/k/known_hosts", connectTimeoutS: 5, acceptNewHostKeys: true, path: "/srv/app" };
  let cache: string;
  before(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-hostkey-"));
  });
  after(() => fs.rmSync(cache, { recursive: true, force: true }));
  const opts = (args: string[]) => Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === "-o" ? [a.split(/=(.*)/s).slice(0, 2)] : [])));

  it("pins exactly that key, strictly (never accept-new), in a private file keyed by its content; known_hosts is not read", () => {
    const t = withPinnedHostKey({ ...base, hostKey: `${ED25519} vm01` }, cache);
    const file = t.hostKeyFile ?? "";
    assert.equal(path.dirname(file), path.join(cache, "host-keys"));
    assert.equal(fs.readFileSync(file, "utf8"), `[10.0.0.11]:2222 ${ED25519}\n`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    const o = opts(sshOptionArgs(t));
    assert.equal(o.StrictHostKeyChecking, "yes");
    assert.equal(o.UserKnownHostsFile, `"${file}"`);
    assert.equal(o.GlobalKnownHostsFile, "/dev/null");
    assert.equal(o.HostKeyAlias, "[10.0.0.11]:2222");
    assert.deepEqual([o.CheckHostIP, o.UpdateHostKeys, o.VerifyHostKeyDNS, o.KnownHostsCommand], ["no", "no", "no", "none"]);
    assert.equal(sshOptionArgs(t).join(" ").includes("/k/known_hosts"), false);
    // Same key: same file; another key: another file; a file altered in place is written back.
    assert.equal(withPinnedHostKey({ ...base, hostKey: ED25519 }, cache).hostKeyFile, file);
    assert.notEqual(withPinnedHostKey({ ...base, hostKey: P256 }, cache).hostKeyFile, file);
    fs.writeFileSync(file, `[10.0.0.11]:2222 ${P256}\n`);
    fs.chmodSync(file, 0o644);
    withPinnedHostKey({ ...base, hostKey: ED25519 }, cache);
    assert.equal(fs.readFileSync(file, "utf8"), `[10.0.0.11]:2222 ${ED25519}\n`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it("without a key: known_hosts as before (accept-new when set); a key without its file is refused, never the known_hosts route", () => {
    const o = opts(sshOptionArgs(base));
    assert.equal(o.UserKnownHostsFile, '"/k/known_hosts"');
    assert.equal(o.StrictHostKeyChecking, "accept-new");
    assert.equal(o.HostKeyAlias, undefined);
    assert.throws(() => targetOptions({ ...base, hostKey: ED25519 }), /vm01 with a given hostKey has no pinned known_hosts file/);
    assert.throws(() => pinnedKnownHostsFile({ ...base, hostKey: `@revoked ${ED25519}` }, cache), /vm01: hostKey starts with the known_hosts marker/);
  });

  it("a refused key names the VM and the given key's fingerprint (changed, or a type the pin lacks)", () => {
    const t = { ...base, hostKey: ED25519 };
    const changed = "Host key for [10.0.0.11]:2222 has changed and you have requested strict checking.\nHost key verification failed.\n";
    const otherType = "No ECDSA host key is known for [10.0.0.11]:2222 and you have requested strict checking.\nHost key verification failed.\n";
    for (const stderr of [changed, otherType]) {
      const e = connectionFailure(t, 255, stderr, ["ssh"]);
      assert.equal(e?.kind, "host-key");
      assert.match(e?.message ?? "", /^vm01: the host key of deploy@10\.0\.0\.11:2222 has changed: it is not the hostKey given for vm01 \(ssh-ed25519 SHA256:0qM9HLZoN7Uey8a63rKNZpRAsC6cYGQLgU8bhKFzx7A\); refused/);
      assert.match(e?.hint ?? "", /pass its new public host key as its hostKey/);
    }
    // A jump host is pinned in known_hosts: its refusal names that file, not the VM's key.
    const hop = connectionFailure({ ...t, jumpHosts: [{ host: "10.0.0.5", port: 22, user: "ops", keyPath: "/k/id" }] }, 255, "Host key for 10.0.0.5 has changed and you have requested strict checking.\nHost key verification failed.\n", ["ssh"]);
    assert.match(hop?.message ?? "", /jump host 1 of 1 .*does not match the one pinned in \/k\/known_hosts/);
  });

  it("RepoSyncTarget inputs: absent unless given; given and bad, a check failure naming hostKey and the VM", () => {
    const raw = { vm: "vm01", host: "10.0.0.11", user: "deploy", keyPath: "/k/id", knownHostsPath: "/k/kh", path: "/srv/app", repoPath: "/src", commit: "a".repeat(40) };
    assert.equal("hostKey" in normalizeInputs(raw), false);
    assert.equal("hostKey" in toTarget(normalizeInputs(raw)), false);
    assert.deepEqual(validateInputs(normalizeInputs({ ...raw, hostKey: ED25519 })), []);
    assert.equal(toTarget(normalizeInputs({ ...raw, hostKey: ED25519 })).hostKey, ED25519);
    for (const bad of ["", `${ED25519}\nx`, `@revoked ${ED25519}`]) {
      const f = validateInputs(normalizeInputs({ ...raw, hostKey: bad }));
      assert.deepEqual(f.map((x) => x.property), ["hostKey"], JSON.stringify(bad));
      assert.match(f[0].reason, /^vm01: (hostKey is empty|"(@revoked )?ssh-ed25519 AAAA[^"]*" (holds a line break|starts with the known_hosts marker))/);
    }
    // Compared: a new key shows as a change (and the update stores it for refresh and destroy); none on either side, none.
    const state = { ...normalizeInputs({ ...raw, hostKey: ED25519 }), revision: raw.commit, observedState: "in-sync" };
    assert.deepEqual(decideDiff(state, { ...state, hostKey: P256 }), { changes: true, replaces: [], deleteBeforeReplace: false });
    assert.equal(decideDiff(state, state).changes, false);
    const { hostKey: _unused, ...keyless } = state;
    assert.equal(decideDiff(keyless, keyless).changes, false);
    // A probe planned without the key is not the probe of the target with it.
    const i = normalizeInputs(raw);
    assert.notEqual(probeKey(i), probeKey({ ...i, hostKey: ED25519 }));
  });
});

describe("RepoSync's settings with host keys: known_hosts optional", () => {
  let dir: string;
  let home: string | undefined;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-hostkey-settings-"));
    fs.writeFileSync(path.join(dir, "id"), "key", { mode: 0o600 });
    fs.mkdirSync(path.join(dir, "repo"));
    home = process.env.HOME;
    process.env.HOME = path.join(dir, "home"); // no ~/.ssh/known_hosts there
  });
  after(() => {
    process.env.HOME = home;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const config = () => ({
    ssh: { key_path: path.join(dir, "id") },
    vms: { vm01: { ssh_user: "deploy" }, vm02: { ssh_user: "deploy", host: "10.0.0.2" } },
    repository: { main_repo_path: path.join(dir, "repo"), vm_repo_paths: { vm01: "/srv/app/a", vm02: "/srv/app/b" } },
  });
  const problems = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return (err as { problems?: Array<{ key: string; message: string }> }).problems ?? [];
    }
    return [];
  };

  it("no known_hosts_path and no file: every VM with a hostKey loads; one without (its host in the YAML) gets today's error", () => {
    assert.deepEqual(problems(() => loadSettings({ config: config(), hosts: { vm01: { host: "10.0.0.1", hostKey: ED25519 }, vm02: { host: "10.0.0.2", hostKey: P256 } } })), []);
    const keyless = problems(() => loadSettings({ config: config(), hosts: { vm01: { host: "10.0.0.1", hostKey: ED25519 } } }));
    assert.deepEqual(keyless.map((p) => p.key), ["ssh.known_hosts_path"]);
    assert.match(keyless[0].message, /known_hosts cannot be read; create it with `ssh-keyscan/);
    assert.equal(fs.existsSync(path.join(dir, "home")), false, "nothing was created");
  });

  it("a bad key given as a plain value is a config error naming hosts.<id>.hostKey, before any target", () => {
    const found = problems(() => loadSettings({ config: config(), hosts: { vm01: { host: "10.0.0.1", hostKey: `10.0.0.1 ${ED25519}` }, vm02: "10.0.0.2" } }));
    assert.deepEqual(found.map((p) => p.key), ["hosts.vm01.hostKey"]);
    assert.match(found[0].message, /^starts with host names, patterns or options/);
  });
});
