/**
 * A fleet of test "VMs": one real OpenSSH server each, on its own loopback address, with its own host
 * key, one authorized client key, a target directory and a known_hosts file that pins every host key.
 * Used by the tests, the demo and the benchmark. Everything it starts is torn down by `stop()`, and by
 * an exit hook when a test run dies before reaching it.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { hostLookupName } from "../../lib/config/knownHosts";
import { readProcStat } from "../../lib/process/procStat";

/** The login user that the fleet's sshd accept when we run as root (created by scripts/setup.sh). */
export const FLEET_USER_AS_ROOT = "reposync";

/** One VM of the fleet. */
export interface FleetVm {
  /** VM id, `vm01`, `vm02`, ... */
  readonly id: string;
  /** Loopback address this VM's sshd listens on. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Where the VM's files live; the default sync target is `root/<targetDir>`. */
  readonly root: string;
  /** Default target directory for a sync (does not exist until something creates it). */
  readonly targetPath: string;
  /** Host public key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string;
}

/** Options for {@link startFleet}. */
export interface FleetOptions {
  /** Number of VMs (default 3). */
  count?: number;
  /** Last octet of the first VM's address: 127.0.0.<firstOctet> (default 11). */
  firstOctet?: number;
  /**
   * The first VM's address, `127.a.b.c` (instead of `firstOctet`): the VMs take the next addresses,
   * carrying into the third octet and skipping last octets 0 and 255, so a fleet of more than ~100 VMs
   * fits (the benchmark's 128-VM curve runs in 127.0.1.x, away from every test's 127.0.0.x).
   */
  firstAddress?: string;
  /** TCP port for every VM (default 22 as root, 2222 otherwise). */
  port?: number;
  /** Parent directory for the fleet's files (default: a new temp dir). */
  baseDir?: string;
  /** Extra sshd_config lines for every VM. */
  extraSshdConfig?: string[];
  /** sshd's LogLevel (default ERROR); INFO logs every accepted connection (see {@link Fleet.connectionCount}). */
  logLevel?: "ERROR" | "INFO";
  /**
   * A network namespace (`ip netns`, root only) the VMs' sshd run in: their loopback addresses are
   * then not reachable from this one, only from a jump host in that namespace (see tools/fleet/bastion.ts).
   */
  netns?: string;
}

const SSHD = "/usr/sbin/sshd";
const liveFleets = new Set<Fleet>();

/** A running fleet. Create with {@link startFleet}. */
export class Fleet {
  readonly vms: FleetVm[] = [];
  /** Client private key accepted by every VM. */
  readonly clientKeyPath: string;
  /** known_hosts pinning every VM's current host key. */
  readonly knownHostsPath: string;
  private readonly procs = new Map<string, ChildProcess>();
  private readonly logs = new Map<string, string>();

  constructor(readonly baseDir: string, private readonly extraConfig: string[], private readonly logLevel = "ERROR", readonly netns?: string) {
    this.clientKeyPath = path.join(baseDir, "client", "id_ed25519");
    this.knownHostsPath = path.join(baseDir, "client", "known_hosts");
  }

  /** The VM with that id; throws when there is none. */
  vm(id: string): FleetVm {
    const vm = this.vms.find((v) => v.id === id);
    if (!vm) throw new Error(`fleet has no VM ${id} (has ${this.vms.map((v) => v.id).join(", ")})`);
    return vm;
  }

  /** Path of a VM's private directory (host key, config, pid, log). */
  private etc(vm: FleetVm): string {
    return path.join(this.baseDir, "etc", vm.id);
  }

  /** @internal Adds a VM and writes its host key and sshd_config. */
  addVm(vm: FleetVm): void {
    fs.mkdirSync(this.etc(vm), { recursive: true });
    fs.mkdirSync(vm.root, { recursive: true });
    chownToUser(vm.root, vm.user);
    this.vms.push(vm);
    this.newHostKey(vm);
    this.writeSshdConfig(vm);
  }

  private newHostKey(vm: FleetVm): void {
    const key = path.join(this.etc(vm), "ssh_host_ed25519_key");
    fs.rmSync(key, { force: true });
    fs.rmSync(`${key}.pub`, { force: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${vm.id}-host`, "-f", key]);
    vm.hostPublicKey = fs.readFileSync(`${key}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  }

  private writeSshdConfig(vm: FleetVm): void {
    const etc = this.etc(vm);
    const lines = [
      `ListenAddress ${vm.host}:${vm.port}`,
      `HostKey ${path.join(etc, "ssh_host_ed25519_key")}`,
      `PidFile ${path.join(etc, "sshd.pid")}`,
      `AuthorizedKeysFile ${path.join(this.baseDir, "etc", "authorized_keys")}`,
      "UsePAM no",
      "StrictModes no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      `AllowUsers ${vm.user}`,
      "Subsystem sftp internal-sftp",
      `LogLevel ${this.logLevel}`,
      // The benchmark opens many connections at once; the defaults (10:30:100) would drop some.
      "MaxStartups 200:30:400",
      "MaxSessions 64",
      "UseDNS no",
      ...this.extraConfig,
    ];
    fs.writeFileSync(path.join(etc, "sshd_config"), lines.join("\n") + "\n");
  }

  /** Rewrites known_hosts from the VMs' current host keys. */
  writeKnownHosts(): void {
    const lines = this.vms.map((vm) => `${hostLookupName(vm.host, vm.port)} ${vm.hostPublicKey}`);
    fs.writeFileSync(this.knownHostsPath, lines.join("\n") + "\n", { mode: 0o600 });
  }

  /** Starts a VM's sshd and waits until it accepts TCP connections. */
  async startVm(id: string): Promise<void> {
    const vm = this.vm(id);
    if (this.procs.has(id)) return;
    // Another process on the address would answer in our sshd's place (with its own host key), and ours
    // would fail to bind unseen: the test would fail for a reason that is not the project's.
    if (!this.netns && (await canConnect(vm.host, vm.port))) {
      throw new Error(`${vm.host}:${vm.port} (${id}) is already held by another process (${listenerOf(vm.host, vm.port)}): a stray sshd of an earlier run, or another test file using these addresses; stop it (pkill -f 'sshd -f /tmp/repo-sync-fleet-') or give this fleet other octets`);
    }
    const logPath = path.join(this.etc(vm), "sshd.log");
    const log = fs.openSync(logPath, "a");
    const sshd = [SSHD, "-f", path.join(this.etc(vm), "sshd_config"), "-D", "-e"];
    // `ip netns exec` execs sshd in the namespace: the process is sshd itself (same pid, same stop).
    const [cmd, ...args] = this.netns ? ["ip", "netns", "exec", this.netns, ...sshd] : sshd;
    const proc = spawn(cmd, args, {
      stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    this.procs.set(id, proc);
    this.logs.set(id, logPath);
    proc.on("exit", () => {
      if (this.procs.get(id) === proc) this.procs.delete(id);
    });
    await waitForPort(vm.host, vm.port, this.netns, 10_000, () => {
      if (proc.exitCode !== null) {
        throw new Error(`sshd for ${id} exited with ${proc.exitCode}: ${fs.readFileSync(logPath, "utf8").trim()}`);
      }
    });
  }

  /** Stops a VM: SIGTERM to its sshd and SIGKILL to every process it spawned (open sessions die too). */
  async stopVm(id: string): Promise<void> {
    await this.killVm(id, "SIGTERM");
  }

  /**
   * Kills a VM the hard way: SIGKILL to the listener and every descendant, as a crashed machine
   * would drop its sessions mid-transfer.
   */
  async killVm(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const proc = this.procs.get(id);
    if (!proc || proc.pid === undefined) return;
    const pids = [...descendants(proc.pid), proc.pid];
    for (const pid of pids) {
      try {
        process.kill(pid, pid === proc.pid ? signal : "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once("exit", () => resolve());
    });
    this.procs.delete(id);
    await waitForPortClosed(this.vm(id).host, this.vm(id).port, this.netns, 5_000);
    // Its sessions (a kept client master holds one open) were killed too: gone before this returns.
    const deadline = Date.now() + 5_000;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(25);
  }

  /** Restarts a stopped or killed VM. */
  async restartVm(id: string): Promise<void> {
    await this.stopVm(id);
    await this.startVm(id);
  }

  /**
   * Gives a VM a new host key (as a reinstalled machine would) and restarts it. known_hosts is NOT
   * updated unless asked: the point is usually to see the old pin refuse the new key.
   */
  async replaceHostKey(id: string, updateKnownHosts = false): Promise<void> {
    const vm = this.vm(id);
    await this.stopVm(id);
    this.newHostKey(vm);
    if (updateKnownHosts) this.writeKnownHosts();
    await this.startVm(id);
  }

  /** True when the VM's sshd is running. */
  isRunning(id: string): boolean {
    return this.procs.has(id);
  }

  /** PIDs of every sshd process this fleet started that is still alive (listeners and sessions). */
  livePids(): number[] {
    const out: number[] = [];
    for (const proc of this.procs.values()) {
      if (proc.pid !== undefined) out.push(proc.pid, ...descendants(proc.pid));
    }
    return out;
  }

  /** SSH connections a VM accepted so far (needs `logLevel: "INFO"`). */
  connectionCount(id: string): number {
    return (this.sshdLog(id).match(/^Accepted publickey for /gm) ?? []).length;
  }

  /** sshd's own log for a VM (errors only, unless started with `logLevel: "INFO"`). */
  sshdLog(id: string): string {
    const p = this.logs.get(id);
    return p && fs.existsSync(p) ? fs.readFileSync(p, "utf8") : "";
  }

  /** Stops every VM. Safe to call twice. Removes the fleet's files unless `keepFiles`. */
  async stop(keepFiles = false): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.killVm(id)));
    liveFleets.delete(this);
    if (!keepFiles) fs.rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** Synchronous last-resort teardown for process exit. */
  killAllSync(): void {
    for (const pid of this.livePids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    this.procs.clear();
  }

  /** The argv for `ssh` (and rsync's `-e`) that reaches a VM with strict host key checking. */
  sshArgs(id: string): string[] {
    const vm = this.vm(id);
    return [
      "-p", String(vm.port),
      "-i", this.clientKeyPath,
      "-o", "BatchMode=yes",
      "-o", "IdentitiesOnly=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${this.knownHostsPath}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "ConnectTimeout=5",
      "-l", vm.user,
    ];
  }
}


/** Starts a fleet of `count` VMs; every VM is up and pinned in known_hosts when this resolves. */
export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const isRoot = process.getuid?.() === 0;
  const user = isRoot ? FLEET_USER_AS_ROOT : os.userInfo().username;
  const count = options.count ?? 3;
  const port = options.port ?? (isRoot ? 22 : 2222);
  const hosts = fleetAddresses(count, options);
  if (isRoot) ensureUser(user);
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  const baseDir = options.baseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-fleet-"));
  fs.chmodSync(baseDir, 0o755);
  const fleet = new Fleet(baseDir, options.extraSshdConfig ?? [], options.logLevel, options.netns);
  liveFleets.add(fleet);
  try {
    fs.mkdirSync(path.join(baseDir, "client"), { recursive: true, mode: 0o700 });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "repo-sync-test-client", "-f", fleet.clientKeyPath]);
    // sshd reads authorized_keys as the login user: it must sit outside the private client folder.
    fs.mkdirSync(path.join(baseDir, "etc"), { recursive: true, mode: 0o755 });
    fs.copyFileSync(`${fleet.clientKeyPath}.pub`, path.join(baseDir, "etc", "authorized_keys"));
    fs.chmodSync(path.join(baseDir, "etc", "authorized_keys"), 0o644);
    for (let i = 0; i < count; i++) {
      const id = `vm${String(i + 1).padStart(2, "0")}`;
      const root = path.join(baseDir, "vms", id);
      fleet.addVm({ id, host: hosts[i], port, user, root, targetPath: path.join(root, "srv", "app"), hostPublicKey: "" });
    }
    fleet.writeKnownHosts();
    // sshd children share the two cores; start them a few at a time.
    for (let i = 0; i < fleet.vms.length; i += 8) {
      await Promise.all(fleet.vms.slice(i, i + 8).map((vm) => fleet.startVm(vm.id)));
    }
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}

/**
 * The loopback addresses of a fleet of `count` (pure): from 127.0.0.<firstOctet> (default 11) within
 * 127.0.0.x as before, or from `firstAddress` onward, carrying into the third octet and skipping last
 * octets 0 and 255. Throws when the range would leave 127.0.0.x (`firstOctet`) or 127.0.0.0/8.
 */
export function fleetAddresses(count: number, options: Pick<FleetOptions, "firstOctet" | "firstAddress"> = {}): string[] {
  if (options.firstAddress === undefined) {
    const firstOctet = options.firstOctet ?? 11;
    if (firstOctet + count > 255) throw new Error(`fleet of ${count} from 127.0.0.${firstOctet} runs past 127.0.0.254 (give firstAddress, e.g. 127.0.1.2, for a big fleet)`);
    return Array.from({ length: count }, (_, i) => `127.0.0.${firstOctet + i}`);
  }
  if (options.firstOctet !== undefined) throw new Error("give firstOctet or firstAddress, not both");
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(options.firstAddress);
  const [b, c, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [-1, -1, -1];
  if (!m || b > 255 || c > 255 || d < 1 || d > 254) throw new Error(`firstAddress ${JSON.stringify(options.firstAddress)} is not a loopback address 127.a.b.c with c in 1..254`);
  const out: string[] = [];
  let n = (b << 16) | (c << 8) | d;
  while (out.length < count) {
    if (n > 0xfffffe) throw new Error(`fleet of ${count} from ${options.firstAddress} runs past 127.255.255.254`);
    const last = n & 0xff;
    if (last !== 0 && last !== 255) out.push(`127.${n >> 16}.${(n >> 8) & 0xff}.${last}`);
    n++;
  }
  return out;
}

/** Creates a local user (root only) that sshd accepts for key logins. */
export function ensureUser(user: string): void {
  try {
    execFileSync("id", ["-u", user], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["--create-home", "--shell", "/bin/sh", user]);
  }
  // sshd refuses accounts whose password field marks them locked ("!"), even for key logins.
  execFileSync("usermod", ["-p", "*", user]);
}

function chownToUser(dir: string, user: string): void {
  if (process.getuid?.() !== 0) return;
  execFileSync("chown", ["-R", `${user}:`, dir]);
}

/** True while a process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.state !== "Z";
}

/** Every descendant PID of `pid`, read from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = readProcStat(entry)?.ppid;
    if (ppid === undefined) continue; // ended while we read
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = children.get(queue.shift() as number) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

async function waitForPort(host: string, port: number, netns: string | undefined, timeoutMs: number, check: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    check();
    if (await canConnectIn(netns, host, port)) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${host}:${port} did not accept connections within ${timeoutMs} ms`);
    await sleep(25);
  }
}

async function waitForPortClosed(host: string, port: number, netns: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await canConnectIn(netns, host, port)) {
    if (Date.now() > deadline) throw new Error(`${host}:${port} still accepts connections after stop`);
    await sleep(25);
  }
}

/** {@link canConnect}, from inside a network namespace when one is named. */
function canConnectIn(netns: string | undefined, host: string, port: number): Promise<boolean> {
  if (!netns) return canConnect(host, port);
  return new Promise((resolve) => {
    const p = spawn("ip", ["netns", "exec", netns, "bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`], { stdio: "ignore" });
    p.on("error", () => resolve(false));
    p.on("exit", (code) => resolve(code === 0));
  });
}

/** Who listens on host:port, as `ss` names it (pid and program), or "unknown". */
export function listenerOf(host: string, port: number): string {
  try {
    const out = execFileSync("ss", ["-Hltnp", `( sport = :${port} )`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const line = out.split("\n").find((l) => l.split(/\s+/).some((f) => f === `${host}:${port}`));
    const m = line ? /users:\(\("([^"]+)",pid=(\d+)/.exec(line) : null;
    return m ? `pid ${m[2]}, ${m[1]}` : "unknown";
  } catch {
    return "unknown";
  }
}

/** True when a TCP connection to host:port is accepted. */
export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.setTimeout(1000);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
    sock.once("timeout", () => {
      sock.destroy();
      resolve(false);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

process.on("exit", () => {
  for (const fleet of liveFleets) fleet.killAllSync();
});
