/**
 * ssh2 connections to a target with the host key verified against known_hosts (ssh2 accepts any key
 * unless told otherwise), the private key checked like OpenSSH checks it, and failures mapped to the
 * same error kinds as rsync's.
 */
import * as fs from "node:fs";
import { Client, ClientChannel } from "ssh2";
import { privateKeyProblem } from "../config/load";
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { HostKeyVerdict, knownHostsLine, parseKnownHosts, verifyHostKey } from "./knownHosts";

/** An open, verified connection. */
export interface SshConnection {
  client: Client;
  target: Target;
  /** Runs a command (through the login shell) and collects its output. */
  exec(command: string, opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a command and hands back its channel (for long-lived sessions). */
  open(command: string): Promise<ClientChannel>;
  close(): void;
}

/** Output of {@link SshConnection.exec}. */
export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function where(t: Target): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** Connects with a verified host key; throws RepoSyncError (host-key/auth/unreachable/timeout). */
export async function connect(target: Target): Promise<SshConnection> {
  const keyWhy = privateKeyProblem(target.keyPath);
  if (keyWhy) throw new RepoSyncError("config", `cannot use the SSH key for ${where(target)}: ${keyWhy}`, { vm: target.vm });
  const privateKey = fs.readFileSync(target.keyPath);
  let verdict: HostKeyVerdict | undefined;
  let presented = "";
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    // ssh2 may emit several errors for one failure (timeout, then "connection lost"): only the first
    // counts, and a listener stays attached so that later ones are not unhandled.
    const fail = (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(mapConnectError(target, err, verdict, presented));
    };
    client.on("error", fail);
    client.once("ready", () => {
      settled = true;
      resolve();
    });
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey,
        readyTimeout: target.connectTimeoutS * 1000,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          verdict = checkHostKey(target, key);
          presented = key.toString("base64").slice(0, 24);
          return verdict === "trusted";
        },
      });
    } catch (err) {
      fail(err as Error);
    }
  });
  return makeConnection(client, target);
}

function checkHostKey(target: Target, key: Buffer): HostKeyVerdict {
  let text = "";
  try {
    text = fs.readFileSync(target.knownHostsPath, "utf8");
  } catch {
    // a missing file knows no host
  }
  const verdict = verifyHostKey(parseKnownHosts(text), target.host, target.port, key);
  if (verdict === "unknown" && target.acceptNewHostKeys) {
    // Trust on first use, explicitly opted into: pin the key so that a later change is refused.
    const keyType = key.subarray(4, 4 + key.readUInt32BE(0)).toString();
    fs.appendFileSync(target.knownHostsPath, knownHostsLine(target.host, target.port, keyType, key) + "\n", { mode: 0o600 });
    return "trusted";
  }
  return verdict;
}

function mapConnectError(t: Target, err: Error & { level?: string; code?: string }, verdict: HostKeyVerdict | undefined, presented: string): RepoSyncError {
  const vm = t.vm;
  const stderr = err.message;
  if (verdict && verdict !== "trusted") {
    const reason = {
      changed: `the host key of ${where(t)} does not match the one pinned in ${t.knownHostsPath} (possible man in the middle, or a reinstalled VM)`,
      unknown: `the host key of ${where(t)} is not in ${t.knownHostsPath}`,
      revoked: `the host key of ${where(t)} is marked @revoked in ${t.knownHostsPath}`,
    }[verdict];
    return new RepoSyncError("host-key", reason, {
      vm,
      stderr: `presented key starts ${presented}...`,
      hint:
        verdict === "unknown"
          ? `check the VM's fingerprint, then \`ssh-keyscan -p ${t.port} ${t.host} >> ${t.knownHostsPath}\` (or set ssh.accept_new_host_keys: true to trust on first use)`
          : `if the VM was reinstalled, verify its new fingerprint, then \`ssh-keygen -R ${t.port === 22 ? t.host : `'[${t.host}]:${t.port}'`} -f ${t.knownHostsPath}\` and add the new key`,
      cause: err,
    });
  }
  if (err.level === "client-authentication" || /authentication methods failed/i.test(stderr)) {
    return new RepoSyncError("auth", `${where(t)} refused the SSH key ${t.keyPath}`, {
      vm, stderr, cause: err,
      hint: `add the public key to ~${t.user}/.ssh/authorized_keys on the VM, and check ssh_user and the key path`,
    });
  }
  if (err.code === "ECONNREFUSED") {
    return new RepoSyncError("unreachable", `connection to ${where(t)} refused (no SSH server listening)`, { vm, stderr, cause: err, hint: "check that the VM is up and sshd listens on that address and port" });
  }
  if (/Timed out while waiting for handshake/i.test(stderr) || err.code === "ETIMEDOUT") {
    return new RepoSyncError("timeout", `no SSH handshake with ${where(t)} within ${t.connectTimeoutS} s`, { vm, stderr, cause: err, hint: "check that the VM answers on that port (a firewall dropping packets looks like this), or raise ssh.connect_timeout_s" });
  }
  if (err.code === "EHOSTUNREACH" || err.code === "ENETUNREACH" || err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") {
    return new RepoSyncError("unreachable", `${t.host} cannot be reached (${err.code})`, { vm, stderr, cause: err, hint: "check vms.<id>.host and the network path" });
  }
  if (/encrypted|passphrase/i.test(stderr)) {
    return new RepoSyncError("config", `the SSH key ${t.keyPath} is encrypted`, { vm, cause: err, hint: "use a key without a passphrase for automation, restricted on the VM (authorized_keys options)" });
  }
  return new RepoSyncError("unreachable", `SSH connection to ${where(t)} failed`, { vm, stderr, cause: err, hint: "check that the VM is up and reachable" });
}

function makeConnection(client: Client, target: Target): SshConnection {
  const open = (command: string) =>
    new Promise<ClientChannel>((resolve, reject) => {
      client.exec(command, (err, channel) => (err ? reject(err) : resolve(channel)));
    });
  return {
    client,
    target,
    open,
    async exec(command, opts = {}) {
      const ch = await open(command);
      return new Promise<ExecResult>((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              ch.close();
              reject(new RepoSyncError("timeout", `remote command did not finish within ${opts.timeoutMs} ms`, { vm: target.vm }));
            }, opts.timeoutMs)
          : undefined;
        ch.on("data", (d: Buffer) => (stdout += d.toString()));
        ch.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        ch.on("close", (code: number | null) => {
          if (timer) clearTimeout(timer);
          resolve({ code: code ?? null, stdout, stderr });
        });
        ch.end(opts.input ?? "");
      });
    },
    close() {
      client.end();
    },
  };
}
