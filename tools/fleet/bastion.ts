/**
 * A jump host for a fleet whose VMs live in a network namespace (FleetOptions.netns): it listens on a
 * loopback address of this namespace and, per connection, runs `sshd -i` (inetd mode) inside the VMs'
 * namespace with the connection as its stdin/stdout. So the bastion's sshd opens its forwarded
 * connections (ProxyJump's `-W`) where the VMs are, while nothing here can reach them directly:
 * a real bastion topology, loopback only. Root only (ip netns, sshd).
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { hostLookupName } from "../../lib/config/knownHosts";
import type { Fleet } from "./fleet";

/** A running jump host. */
export class Bastion {
  private server?: net.Server;
  private readonly children = new Set<ChildProcess>();
  /** The bastion's host public key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey = "";

  constructor(readonly fleet: Fleet, readonly host: string, readonly port = 22) {}

  private get etc(): string {
    return path.join(this.fleet.baseDir, "etc", "bastion");
  }

  /** A new host key (a reinstalled bastion); known_hosts is not touched. */
  newHostKey(): void {
    const key = path.join(this.etc, "ssh_host_ed25519_key");
    fs.mkdirSync(this.etc, { recursive: true });
    fs.rmSync(key, { force: true });
    fs.rmSync(`${key}.pub`, { force: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bastion-host", "-f", key]);
    this.hostPublicKey = fs.readFileSync(`${key}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    const user = this.fleet.vms[0].user;
    fs.writeFileSync(path.join(this.etc, "sshd_config"), [
      `HostKey ${key}`,
      `AuthorizedKeysFile ${path.join(this.fleet.baseDir, "etc", "authorized_keys")}`,
      "UsePAM no", "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
      `AllowUsers ${user}`, "AllowTcpForwarding yes", "PermitTTY no", "LogLevel ERROR", "UseDNS no",
      // A jump host forwards; it runs nothing for its users.
      "ForceCommand /bin/false",
    ].join("\n") + "\n");
  }

  /** Pins the bastion's current key in the fleet's known_hosts (beside the VMs'). */
  pin(): void {
    const name = hostLookupName(this.host, this.port);
    const others = fs.readFileSync(this.fleet.knownHostsPath, "utf8").split("\n").filter((l) => l && !l.startsWith(`${name} `));
    fs.writeFileSync(this.fleet.knownHostsPath, [...others, `${name} ${this.hostPublicKey}`].join("\n") + "\n", { mode: 0o600 });
  }

  /** Starts listening. */
  async start(): Promise<void> {
    if (!this.hostPublicKey) this.newHostKey();
    const netns = this.fleet.netns;
    if (!netns) throw new Error("a bastion needs a fleet in a network namespace (FleetOptions.netns)");
    this.server = net.createServer((sock) => {
      const child = spawn("ip", ["netns", "exec", netns, "/usr/sbin/sshd", "-i", "-f", path.join(this.etc, "sshd_config")], { stdio: ["pipe", "pipe", "ignore"] });
      this.children.add(child);
      sock.pipe(child.stdin).on("error", () => undefined);
      child.stdout.pipe(sock).on("error", () => undefined);
      sock.on("error", () => child.kill("SIGKILL"));
      sock.on("close", () => child.kill("SIGTERM"));
      child.on("exit", () => {
        this.children.delete(child);
        sock.destroy();
      });
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => resolve());
    });
  }

  /** Stops listening and ends every session through it. */
  async stop(): Promise<void> {
    for (const c of this.children) c.kill("SIGKILL");
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Creates a network namespace with its loopback up; returns a function that deletes it. */
export function makeNetns(name: string): () => void {
  execFileSync("ip", ["netns", "add", name]);
  execFileSync("ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"]);
  return () => {
    try {
      execFileSync("ip", ["netns", "del", name]);
    } catch {
      // already gone
    }
  };
}
