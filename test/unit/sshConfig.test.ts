/**
 * `ssh.config_path`: the pure parts from captured `ssh -G` output (OpenSSH 9.2), then the whole load
 * with the real `ssh -G` on config files written here (it reads files only, connects nowhere): what the
 * file supplies, what the YAML keeps, and every way the file can be unusable, each a named config error.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, parseConfigDocument } from "../../lib/config/load";
import { configuredValues, expandSshPath, mergeConnection, parseProxyJump, parseSshG } from "../../lib/config/sshConfig";
import type { Target } from "../../lib/config/types";
import { sshOptionArgs } from "../../lib/remote/sshArgs";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

const captured = (name: string): string => fs.readFileSync(path.join(PROJECT_ROOT, "test", "unit", "fixtures", "ssh-G", name), "utf8");

describe("ssh.config_path (pure): ssh -G output", () => {
  const app = parseSshG(captured("app.txt"));
  const defaults = parseSshG(captured("defaults.txt"));

  it("takes what the file sets and nothing of OpenSSH's defaults", () => {
    assert.deepEqual(configuredValues(app, defaults, "app"), {
      hostname: "10.1.0.11", port: 2201, user: "deploy", identityFiles: ["~/.ssh/app_%r"],
      proxyJump: "ops@bastion:2222", userKnownHostsFiles: "/etc/repo-sync/kh",
    });
  });

  it("a host the file says nothing about: its own name, nothing else", () => {
    assert.deepEqual(configuredValues(defaults, defaults, "app"), { hostname: "app" });
    assert.deepEqual(defaults.get("identityfile")?.length, 7, "the captured defaults list seven keys");
  });

  const tok = { home: "/home/me", localUser: "me", uid: 1000, localHost: "ws.example.org", alias: "app", hostname: "10.1.0.11", port: 2201, user: "deploy" };
  const expansions: Array<[string, ReturnType<typeof expandSshPath>]> = [
    ["~/.ssh/app_%r", "/home/me/.ssh/app_deploy"],
    ["~", "/home/me"],
    ["%d/keys/%n-%h-%p", "/home/me/keys/app-10.1.0.11-2201"],
    ["/k/%u.%i.%l.%L", "/k/me.1000.ws.example.org.ws"],
    ["/k/100%%", "/k/100%"],
    ["/k/%C", { problem: "\"/k/%C\" uses the token %C, which repo-sync does not expand (supported: %% %d %h %i %l %L %n %p %r %u)" }],
    ["/k/x%", { problem: "\"/k/x%\" ends in a lone %" }],
  ];
  for (const [raw, want] of expansions) it(`expands ${JSON.stringify(raw)}`, () => assert.deepEqual(expandSshPath(raw, tok), want));

  const jumps: Array<[string, ReturnType<typeof parseProxyJump>]> = [
    ["none", []],
    ["bastion", [{ host: "bastion" }]],
    ["ops@b1:2222,b2", [{ host: "b1", port: 2222, user: "ops" }, { host: "b2" }]],
    ["ssh://ops@[fd00::1]:22", [{ host: "fd00::1", port: 22, user: "ops" }]],
    ["b1,,b2", { problem: "ProxyJump \"b1,,b2\": \"\" is not [user@]host[:port]" }],
  ];
  for (const [raw, want] of jumps) it(`reads ProxyJump ${JSON.stringify(raw)}`, () => assert.deepEqual(parseProxyJump(raw), want));

  it("the YAML wins key by key; the file fills the rest; OpenSSH's local user when neither sets one", () => {
    const file = configuredValues(app, defaults, "app");
    const yaml = { user: "", port: 22, keyPath: "/yaml/id", knownHostsPath: "/yaml/kh", explicit: { user: false, port: false, keyPath: false, jumpHosts: false, knownHostsPath: false } };
    assert.deepEqual(mergeConnection(yaml, file, { identity: "/f/id", knownHosts: "/f/kh" }, "me"), { host: "10.1.0.11", port: 2201, user: "deploy", keyPath: "/f/id", knownHostsPath: "/f/kh" });
    const explicit = { user: true, port: true, keyPath: true, jumpHosts: true, knownHostsPath: true };
    assert.deepEqual(mergeConnection({ ...yaml, user: "ops", port: 2222, explicit }, file, { identity: "/f/id", knownHosts: "/f/kh" }, "me"), { host: "10.1.0.11", port: 2222, user: "ops", keyPath: "/yaml/id", knownHostsPath: "/yaml/kh" });
    assert.equal(mergeConnection(yaml, { hostname: "h" }, {}, "me").user, "me");
  });

  it("a resolved target's ssh reads no client config of its own; a plain one still may", () => {
    const t: Target = { vm: "vm01", host: "10.1.0.11", port: 22, user: "deploy", keyPath: "/k", knownHostsPath: "/kh", connectTimeoutS: 5, acceptNewHostKeys: false, path: "/srv/app" };
    assert.deepEqual(sshOptionArgs({ ...t, noUserSshConfig: true }).slice(0, 2), ["-F", "/dev/null"]);
    assert.equal(sshOptionArgs(t).includes("-F"), false);
  });
});

describe("ssh.config_path: loading with the real ssh -G", () => {
  let dir: string;
  let key: string;
  let kh: string;
  const doc = (ssh: Record<string, unknown>, vm01: Record<string, unknown>): Record<string, unknown> => ({
    ssh,
    vms: { src: { host: "127.0.0.1", ssh_user: "root" }, vm01 },
    repository: { source_vm: "src", main_repo_path: dir, vm_repo_paths: { vm01: "/srv/app" } },
  });
  const load = (conf: string, vm01: Record<string, unknown> = { host: "app" }, ssh: Record<string, unknown> = {}) => {
    fs.writeFileSync(path.join(dir, "ssh_config"), conf);
    return parseConfigDocument(doc({ config_path: path.join(dir, "ssh_config"), ...ssh }, vm01), "<inline>", { baseDir: dir, homeDir: dir });
  };
  const problems = (f: () => unknown): string[] => {
    try {
      f();
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.key}: ${p.message}`);
      throw err;
    }
    assert.fail("expected a ConfigError");
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-sshcfg-"));
    key = path.join(dir, "id_app");
    kh = path.join(dir, "known hosts");
    fs.writeFileSync(key, "not read here\n", { mode: 0o600 });
    fs.writeFileSync(kh, "[10.1.0.11]:2201 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2Yf1n0y3s0cB8W3r9lQ0o9c1x3mWl7cKkq5zZ0t0Aa\nbastion.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2Yf1n0y3s0cB8W3r9lQ0o9c1x3mWl7cKkq5zZ0t0Aa\n");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const appConf = () => [
    "Host app",
    "  HostName 10.1.0.11",
    "  Port 2201",
    "  User deploy",
    "  IdentityFile ~/missing_key",
    "  IdentityFile ~/id_%n",
    `  UserKnownHostsFile "${kh}" ~/.ssh/known_hosts2`,
    "  ProxyJump jump",
    "Host jump",
    "  HostName bastion.example",
    "  User ops",
    "",
  ].join("\n");

  it("host, port, user, the first existing key, known_hosts (a path with a space) and the hops come from the file", () => {
    const [t] = load(appConf()).targets;
    assert.deepEqual(
      { host: t.host, port: t.port, user: t.user, keyPath: t.keyPath, knownHostsPath: t.knownHostsPath, jumpHosts: t.jumpHosts, noUserSshConfig: t.noUserSshConfig },
      { host: "10.1.0.11", port: 2201, user: "deploy", keyPath: key, knownHostsPath: kh, jumpHosts: [{ host: "bastion.example", port: 22, user: "ops", keyPath: key }], noUserSshConfig: true },
    );
  });

  it("keys written in the YAML win over the file (like ssh's command line)", () => {
    const [t] = load(appConf(), { host: "app", ssh_user: "other", ssh_port: 2201, jump_hosts: [] }).targets;
    assert.deepEqual([t.host, t.user, t.port, t.jumpHosts], ["10.1.0.11", "other", 2201, undefined]);
  });

  it("a VM whose host key is not pinned in the file's UserKnownHostsFile is named, with that file", () => {
    const found = problems(() => load(appConf().replace("Port 2201", "Port 2299")));
    assert.deepEqual(found, [`vms.vm01.host: 10.1.0.11:2299 has no key in UserKnownHostsFile ${kh} (from ${path.join(dir, "ssh_config")}); add it with \`ssh-keyscan -p 2299 10.1.0.11 >> ${kh}\` after checking the fingerprint`]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ["ProxyCommand", "Host app\n  HostName 10.1.0.11\n  ProxyCommand nc %h %p\n", /vms\.vm01\.host: vm01 \("app" in ssh\.config_path .*\): sets ProxyCommand, which repo-sync cannot use .*ProxyJump, or as vms\.vm01\.jump_hosts/],
    ["a syntax error", "Host app\n  Bogus yes\n", /vms\.vm01\.host: .*`ssh -G -F .*ssh_config -- app` failed \(exit 255\): .*Bad configuration option: bogus/],
    ["an unknown % token", "Host app\n  IdentityFile ~/id_%C\n", /uses the token %C, which repo-sync does not expand/],
    ["a user repo-sync refuses", "Host app\n  User \"a;b\"\n", /User "a;b" is not a valid login name/],
    ["a ProxyJump OpenSSH cannot read", "Host app\n  ProxyJump a,,b\n", /failed \(exit 255\): .*line 2: Invalid ProxyJump "a,,b" \/ /],
    ["a hop that looks like an option (passed after --)", "Host app\n  ProxyJump -evil\n", /jump host "-evil": `ssh -G -F .* -- -evil` failed \(exit 255\): hostname contains invalid characters/],
    ["a hop whose HostName is an option", "Host app\n  ProxyJump jump\nHost jump\n  HostName -oProxyCommand=x\n", /jump host "jump": HostName "-oproxycommand=x" starts with `-` and would be read as an option/],
    ["a HostName with a space", "Host app\n  HostName \"a b\"\n", /HostName "a b" is not a hostname or IP address/],
    ["a key path OpenSSH would take apart", "Host app\n  IdentityFile \"/tmp/a\\\"b\"\n", /IdentityFile "\/tmp\/a\\"b" contains a quote or backslash/],
  ];
  for (const [what, conf, want] of bad) {
    it(`${what} in the file: a config error naming the VM, the alias and the file`, () => {
      const found = problems(() => load(conf));
      assert.equal(found.length, 1, found.join("\n"));
      assert.match(found[0], want);
    });
  }

  it("a missing file and a wrong type are named by the key", () => {
    const missing = problems(() => parseConfigDocument(doc({ config_path: path.join(dir, "nope") }, { host: "app" }), "<inline>", { baseDir: dir, homeDir: dir }));
    assert.match(missing.join("\n"), /vms\.vm01\.host: .*`ssh -G -F .*nope -- app` failed \(exit 255\): Can't open user config file/);
    const wrong = problems(() => parseConfigDocument(doc({ config_path: 5 }, { host: "app" }), "<inline>", { baseDir: dir, homeDir: dir }));
    assert.deepEqual(wrong, ["ssh.config_path: must be a non-empty string, got a number (5)"]);
  });

  it("without config_path, ssh_user stays required", () => {
    const found = problems(() => parseConfigDocument(doc({}, { host: "app" }), "<inline>", { baseDir: dir, homeDir: dir, checkLocalFiles: false }));
    assert.equal(found[0], "vms.vm01.ssh_user: is missing");
  });
});
