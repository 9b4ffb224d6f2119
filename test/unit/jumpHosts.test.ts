/**
 * Jump hosts, pure parts: the ProxyJump-style spec, the -F file every hop's ssh reads, the argv, and
 * OpenSSH's failures on the way (stderr captured from OpenSSH 9.2 through a real bastion).
 */
import * as assert from "node:assert/strict";
import { parseJumpHost } from "../../lib/config/jumpHost";
import { parseConfigDocument } from "../../lib/config/load";
import type { Target } from "../../lib/config/types";
import { jumpConfigText } from "../../lib/remote/jumpHosts";
import { connectionFailure } from "../../lib/remote/sshErrors";
import { sshOptionArgs } from "../../lib/remote/sshArgs";

const hop = { host: "10.0.0.5", port: 22, user: "jump", keyPath: "/keys/jump key" };
const target = (over: Partial<Target> = {}): Target => ({
  vm: "vm01", host: "10.1.0.11", port: 22, user: "deploy", keyPath: "/keys/id", knownHostsPath: "/kh/known_hosts",
  connectTimeoutS: 7, acceptNewHostKeys: false, path: "/srv/app", jumpHosts: [hop], ...over,
});

describe("jump hosts (pure)", () => {
  const specs: Array<[string, ReturnType<typeof parseJumpHost>]> = [
    ["bastion.example", { host: "bastion.example" }],
    ["ops@bastion.example", { host: "bastion.example", user: "ops" }],
    ["ops@10.0.0.5:2222", { host: "10.0.0.5", port: 2222, user: "ops" }],
    ["[fd00::5]:22", { host: "fd00::5", port: 22 }],
    ["ops@host:0", { problem: "\"ops@host:0\": port 0 is not from 1 to 65535" }],
    ["a b", { problem: "\"a b\" is not [user@]host[:port]" }],
    ["ops@", { problem: "\"ops@\" is not [user@]host[:port]" }],
  ];
  for (const [text, want] of specs) it(`parses ${JSON.stringify(text)}`, () => assert.deepEqual(parseJumpHost(text), want));

  it("the config completes each hop with the VM's user, port 22 and the VM's key; a VM may go direct", () => {
    const cfg = parseConfigDocument({
      ssh: { key_path: "/keys/id", known_hosts_path: "/kh/known_hosts", jump_hosts: ["ops@10.0.0.5", { host: "10.0.0.6", port: 2222, key_path: "/keys/inner" }] },
      vms: { src: { host: "127.0.0.1", ssh_user: "root" }, vm01: { host: "10.1.0.11", ssh_user: "deploy" }, vm02: { host: "10.1.0.12", ssh_user: "deploy", jump_hosts: [] } },
      repository: { source_vm: "src", main_repo_path: "/repo", vm_repo_paths: { vm01: "/srv/app", vm02: "/srv/app" } },
    }, "<inline>", { checkLocalFiles: false });
    assert.deepEqual(cfg.targets[0].jumpHosts, [
      { host: "10.0.0.5", port: 22, user: "ops", keyPath: "/keys/id" },
      { host: "10.0.0.6", port: 2222, user: "deploy", keyPath: "/keys/inner" },
    ]);
    assert.equal(cfg.targets[1].jumpHosts, undefined);
  });

  it("bad hops are config problems naming the key", () => {
    assert.throws(() => parseConfigDocument({
      ssh: { key_path: "/k", known_hosts_path: "/kh", jump_hosts: ["ops@-oProxyCommand=x", 7] },
      vms: { src: { host: "127.0.0.1", ssh_user: "root" }, vm01: { host: "10.1.0.11", ssh_user: "deploy", jump_hosts: "bastion" } },
      repository: { source_vm: "src", main_repo_path: "/repo", vm_repo_paths: { vm01: "/srv/app" } },
    }, "<inline>", { checkLocalFiles: false }), (e: Error) =>
      /ssh\.jump_hosts\[0\]: host "-oProxyCommand=x"/.test(e.message) && /ssh\.jump_hosts\[1\]: /.test(e.message) && /vms\.vm01\.jump_hosts: must be a list/.test(e.message));
  });

  it("every hop's own ssh reads its options from the -F file: pinned, keyed, chained", () => {
    const two = target({ jumpHosts: [hop, { host: "10.0.0.6", port: 2222, user: "inner", keyPath: "/keys/100%" }] });
    const text = jumpConfigText(two);
    assert.match(text, /Host repo-sync-hop-0\n  HostName 10\.0\.0\.5\n  Port 22\n  User jump\n  IdentityFile "\/keys\/jump key"\n/);
    assert.match(text, /IdentityFile "\/keys\/100%%"/);
    for (const line of ["StrictHostKeyChecking yes", 'UserKnownHostsFile "/kh/known_hosts"', "ConnectTimeout 7", "BatchMode yes", "IdentitiesOnly yes"]) {
      assert.equal(text.split(line).length - 1, 2, line);
    }
    assert.match(text, /Host repo-sync-hop-1\n[\s\S]*  ProxyJump repo-sync-hop-0\n$/);
    const args = sshOptionArgs(two, { path: "/tmp/repo-sync-ssh-x/m", master: true });
    assert.deepEqual(args.slice(0, 4), ["-F", "/tmp/repo-sync-ssh-x/m.jump.conf", "-o", "ProxyJump=repo-sync-hop-1"]);
    assert.throws(() => sshOptionArgs(two), /control folder/);
    assert.equal(sshOptionArgs(target({ jumpHosts: undefined }), { path: "/x/m", master: true }).includes("-F"), false);
    assert.throws(() => jumpConfigText(target({ jumpHosts: [{ ...hop, host: "-oProxyCommand=sh" }] })), /jump host 1/);
  });

  const failures: Array<[string, string, string, RegExp]> = [
    ["bastion down", "ssh: connect to host 10.0.0.5 port 22: Connection refused\r\nkex_exchange_identification: Connection closed by remote host\r\n", "unreachable", /^vm01: jump host 1 of 1 on the way to vm01 \(jump@10\.0\.0\.5:22\): connection to jump@10\.0\.0\.5:22 refused/],
    ["bastion key changed", "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nOffending ED25519 key in /kh/known_hosts:2\r\nHost key for 10.0.0.5 has changed and you have requested strict checking.\r\nHost key verification failed.\r\nkex_exchange_identification: Connection closed by remote host\r\n", "host-key", /^vm01: jump host 1 of 1 .*does not match the one pinned in \/kh\/known_hosts.*ssh-keygen -R 10\.0\.0\.5 -f \/kh\/known_hosts/s],
    ["bastion key unknown", "No ED25519 host key is known for 10.0.0.5 and you have requested strict checking.\r\nHost key verification failed.\r\nkex_exchange_identification: Connection closed by remote host\r\n", "host-key", /^vm01: jump host 1 of 1 .*is not in \/kh\/known_hosts.*ssh-keyscan -p 22 10\.0\.0\.5/s],
    ["VM unreachable from the bastion", "stdio forwarding failed\r\nkex_exchange_identification: Connection closed by remote host\r\n", "unreachable", /^vm01: the jump host jump@10\.0\.0\.5:22 could not open a connection to deploy@10\.1\.0\.11:22/],
    ["the VM's own key unknown (past the bastion)", "No ED25519 host key is known for 10.1.0.11 and you have requested strict checking.\r\nHost key verification failed.\r\n", "host-key", /^vm01: the host key of deploy@10\.1\.0\.11:22 is not in/],
  ];
  for (const [name, stderr, kind, message] of failures) {
    it(`names where it failed: ${name}`, () => {
      const e = connectionFailure(target(), 255, stderr, ["ssh"]);
      assert.equal(e?.kind, kind);
      assert.match(`${e?.message}`, message);
      assert.equal(e?.vm, "vm01");
    });
  }
});
