/**
 * The package's entry point (`import { RepoSync } from "repo-sync"`): the Pulumi surface. The plain
 * library (config, source, scan, transfer, status) is `repo-sync/lib`.
 */
export { RepoSync, loadSettings } from "./repoSync";
export type { HostAddress, HostInput, RepoSyncArgs, RepoSyncVmOutputs } from "./repoSync";
export { RepoSyncTarget } from "./repoSyncTarget";
export type { RepoSyncTargetArgs, SecretScanArgs } from "./repoSyncTarget";
export type { Drift } from "./drift";
export type { SettingsArgs, SuppliedVm, LoadedSettings } from "./settings";
export type { HealthCheckArgs, JumpHostArgs, RepoSyncOptions, RepositoryArgs, RolloutArgs, SecretScanningArgs, SshArgs, VmArgs } from "./settingsArgs";
