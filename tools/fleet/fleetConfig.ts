/**
 * Writes a `configs/config.yml` for a running fleet: its VMs as vm01..vmNN, the source VM (vm04 in
 * the original layout, here `source`) standing for this machine, and every VM's target path.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import type { Fleet } from "./fleet";

/** Options for {@link fleetConfig}. */
export interface FleetConfigOptions {
  repoPath: string;
  /** Extra keys merged into `repository`. */
  repository?: Record<string, unknown>;
  /** Extra keys merged into `ssh`. */
  ssh?: Record<string, unknown>;
  /** Per-VM extra keys. */
  vms?: Record<string, Record<string, unknown>>;
  /** gitleaks rules path (default: none = gitleaks' defaults). */
  gitleaksConfig?: string;
}

/** The config document (plain object) for a fleet. */
export function fleetConfig(fleet: Fleet, opts: FleetConfigOptions): Record<string, unknown> {
  const vms: Record<string, Record<string, unknown>> = {};
  const paths: Record<string, string> = {};
  for (const vm of fleet.vms) {
    vms[vm.id] = { host: vm.host, ssh_user: vm.user, ssh_port: vm.port, enabled: true, ...(opts.vms?.[vm.id] ?? {}) };
    paths[vm.id] = vm.targetPath;
  }
  vms.source = { host: "127.0.0.1", ssh_user: fleet.vms[0]?.user ?? "root", enabled: true };
  return {
    ssh: { key_path: fleet.clientKeyPath, known_hosts_path: fleet.knownHostsPath, connect_timeout_s: 5, ...(opts.ssh ?? {}) },
    vms,
    repository: {
      source_vm: "source",
      main_repo_path: opts.repoPath,
      vm_repo_paths: paths,
      default_branch: "main",
      exclude_dot_git: true,
      rsync_excludes: [".git", "__pycache__", ".vscode"],
      secret_scanning: { enabled: true, tool: "gitleaks", block_on_secrets: true, ...(opts.gitleaksConfig ? { config_path: opts.gitleaksConfig } : {}) },
      lock_timeout_s: 10,
      io_timeout_s: 30,
      ...(opts.repository ?? {}),
    },
  };
}

/** Writes the config for a fleet to `file` (creating its folder) and returns the path. */
export function writeFleetConfig(fleet: Fleet, file: string, opts: FleetConfigOptions): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, stringify(fleetConfig(fleet, opts)));
  return file;
}
