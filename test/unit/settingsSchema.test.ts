/**
 * The settings schema is the one place a setting is written: the README tables and the typed
 * arguments are what it renders now, the YAML and the resource inputs apply the same ranges and
 * checks, and the typed (camelCase) settings are validated with messages in their own names.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseConfigDocument } from "../../lib/config/load";
import { camelPath, comparedInputs, SECTION_PATH, SETTINGS } from "../../lib/config/schema";
import { COMPARED_INPUTS, normalizeInputs, TARGET_INPUTS, targetInputsOf, toTarget, validateInputs } from "../../providers/inputs";
import { loadSettings } from "../../providers/settings";
import { renderReadme, renderTypes, TYPES_FILE } from "../../tools/settings";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

const home = "/home/u";
const yamlDoc = () => ({
  ssh: { key_path: "/k/id", known_hosts_path: "/k/kh" },
  vms: { vm01: { host: "10.0.0.1", ssh_user: "deploy" } },
  repository: { main_repo_path: "/src/repo", vm_repo_paths: { vm01: "/srv/app/current" } },
});
const typedDoc = () => ({
  ssh: { keyPath: "/k/id", knownHostsPath: "/k/kh" },
  vms: { vm01: { host: "10.0.0.1", sshUser: "deploy" } },
  repository: { mainRepoPath: "/src/repo", vmRepoPaths: { vm01: "/srv/app/current" } },
});

/** The problems of a document, as `key: message` lines. */
function problems(doc: unknown, naming: "yaml" | "camel" = "yaml"): string[] {
  try {
    parseConfigDocument(doc, "<inline>", { homeDir: home, baseDir: "/", checkLocalFiles: false, naming });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.key}: ${p.message}`);
  }
}

describe("settings schema: one table for the YAML, the inputs, the types and the README", () => {
  it("the README's settings tables are exactly what the schema renders (run `npm run settings` after editing it)", () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    assert.equal(renderReadme(readme), readme, "README.md's generated tables differ from lib/config/schema.ts: run `npm run settings`");
    for (const s of SETTINGS.filter((r) => r.section !== "program")) assert.ok(readme.includes(`| \`${SECTION_PATH[s.section]}.${s.key}`), `${s.key} is in the README table`);
  });

  it("the typed arguments file is exactly what the schema renders", () => {
    assert.equal(fs.readFileSync(path.join(PROJECT_ROOT, TYPES_FILE), "utf8"), renderTypes(), `${TYPES_FILE} differs from lib/config/schema.ts: run \`npm run settings\``);
  });

  it("a range is the same in the YAML and as a resource input (max_delete was capped in one only)", () => {
    const doc = yamlDoc();
    Object.assign(doc.repository, { max_delete: 100_000_001 });
    assert.deepEqual(problems(doc), ["repository.max_delete: must be an integer from 0 to 100000000, got a number (100000001)"]);
    const base = { vm: "vm01", host: "10.0.0.1", user: "deploy", keyPath: "/k/id", knownHostsPath: "/k/kh", path: "/srv/app/current", repoPath: "/src/repo", commit: "a".repeat(40) };
    assert.deepEqual(validateInputs(normalizeInputs({ ...base, maxDelete: 100_000_001 })).map((f) => `${f.property}: ${f.reason}`), ["maxDelete: vm01: 100000001 is not a whole number from 0 to 100000000"]);
    assert.deepEqual(validateInputs(normalizeInputs({ ...base, maxDelete: 5 })), []);
    // A check function too: the same branch rule for the YAML's default_branch and the input.
    assert.match(validateInputs(normalizeInputs({ ...base, branch: "-x" })).map((f) => f.reason).join("\n"), /vm01: "-x" /);
  });

  it("what diff compares is the schema's desired state (plus the VM and the commit)", () => {
    assert.deepEqual(new Set(COMPARED_INPUTS), new Set(["vm", "commit", ...comparedInputs()]));
    for (const k of ["host", "port", "path", "commit", "maxDelete", "secretScan", "layout"]) assert.ok(COMPARED_INPUTS.includes(k), `${k} is compared`);
    for (const k of ["bwlimitKbps", "jumpHosts", "checksum", "sudo", "rsyncPath", "probePlan", "logUrn", "observed"]) assert.ok(!COMPARED_INPUTS.includes(k), `${k} is not desired state`);
  });

  it("every input a row names is one the provider reads (normalizeInputs keeps it)", () => {
    const raw: Record<string, unknown> = { secretScan: { enabled: true, configPath: "/r.toml", blockOnSecrets: true, ignoreInlineAllow: true }, layout: "releases" };
    for (const s of SETTINGS) if (s.input && !s.input.includes(".") && !(s.input in raw)) raw[s.input] = s.kind.type === "boolean" ? true : s.kind.type === "integer" ? s.kind.min : s.kind.type === "strings" ? ["x"] : s.kind.type === "hops" ? [{ host: "h", port: 22, user: "u", keyPath: "/k" }] : "x";
    const i = normalizeInputs(raw) as unknown as Record<string, unknown>;
    for (const s of SETTINGS.filter((r) => r.input)) {
      const [top, sub] = (s.input ?? "").split(".");
      assert.notEqual(sub ? (i[top] as Record<string, unknown>)[sub] : i[top], undefined, `input ${s.input} (${s.section}.${s.key}) is read by normalizeInputs`);
    }
  });

  it("typed settings are checked by the same rules, and problems name the camelCase keys", () => {
    assert.deepEqual(problems(typedDoc(), "camel"), []);
    const doc = typedDoc();
    Object.assign(doc.repository, { maxDelet: 3, layout: "blue", secretScanning: { blockOnSecret: false } });
    Object.assign(doc.vms.vm01, { sshPort: "22" });
    const got = problems(doc, "camel");
    assert.ok(got.some((p) => p.startsWith("repository.maxDelet: is not a known key (did you mean `maxDelete`?)")), got.join("\n"));
    assert.ok(got.includes('repository.layout: must be "in_place" or "releases", got "blue"'), got.join("\n"));
    assert.ok(got.includes('vms.vm01.sshPort: must be an integer from 1 to 65535, got a string ("22")'), got.join("\n"));
    assert.ok(got.some((p) => p.startsWith("repository.secretScanning.blockOnSecret: is not a known key (did you mean `blockOnSecrets`?)")), got.join("\n"));
    // The YAML's snake_case keys are unknown there (one naming per document).
    const mixed = typedDoc();
    Object.assign(mixed.repository, { max_delete: 3 });
    assert.ok(problems(mixed, "camel").some((p) => p.startsWith("repository.max_delete: is not a known key (did you mean `maxDelete`?)")));
  });

  it("a typed setting maps onto the same Config as its YAML twin", () => {
    const y = yamlDoc();
    Object.assign(y.repository, { max_delete: 7, layout: "releases", keep_releases: 3, secret_scanning: { block_on_secrets: false }, rsync_excludes: ["uploads/"] });
    Object.assign(y.vms.vm01, { ssh_port: 2222, bwlimit_kbps: 100, jump_hosts: [{ host: "bastion", key_path: "/k/hop" }] });
    const t = typedDoc();
    Object.assign(t.repository, { maxDelete: 7, layout: "releases", keepReleases: 3, secretScanning: { blockOnSecrets: false }, rsyncExcludes: ["uploads/"] });
    Object.assign(t.vms.vm01, { sshPort: 2222, bwlimitKbps: 100, jumpHosts: [{ host: "bastion", keyPath: "/k/hop" }] });
    const opts = { homeDir: home, baseDir: "/", checkLocalFiles: false };
    assert.deepEqual(parseConfigDocument(t, "<inline>", { ...opts, naming: "camel" }), parseConfigDocument(y, "<inline>", opts));
  });

  it("a host key written but left blank is an error, never the known_hosts route", () => {
    const doc = yamlDoc();
    Object.assign(doc.vms.vm01, { host_key: null });
    assert.deepEqual(problems(doc), ["vms.vm01.host_key: is empty: give the VM's public host key (ssh-ed25519 AAAA...), or remove the key to use known_hosts"]);
  });

  it("a Target travels to the provider and back whole: every field the loader builds is an input (one list, both ways)", () => {
    const doc = yamlDoc();
    Object.assign(doc.repository, { layout: "releases", keep_releases: 3, rsync_path: "/usr/bin/rsync", bwlimit_kbps: 100, sudo: true, rsync_excludes: ["uploads/"] });
    Object.assign(doc.vms.vm01, { ssh_port: 2222, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYZgabCX4gQ+mp4oHkyGjv5pqwCJqxzQg8JJ6SVPq52", jump_hosts: ["ops@bastion:2200"] });
    const t = parseConfigDocument(doc, "<inline>", { homeDir: home, baseDir: "/", checkLocalFiles: false }).targets[0];
    const carried: readonly string[] = TARGET_INPUTS;
    const notInputs = Object.keys(t).filter((k) => !carried.includes(k) && !["shared", "postSyncCommand", "healthCheck"].includes(k));
    assert.deepEqual(notInputs, [], "a Target field the provider would never see");
    const commit = { repoPath: "/src/repo", commit: "a".repeat(40), excludes: ["uploads/"] };
    const { postSyncCommand: _hook, ...reachable } = t;
    assert.deepEqual(toTarget(normalizeInputs({ ...commit, ...targetInputsOf(t) })), reachable);
  });

  it("camelPath renames schema keys only (a VM id with an underscore stays)", () => {
    assert.equal(camelPath("vms.web_db.ssh_key_path"), "vms.web_db.sshKeyPath");
    assert.equal(camelPath("repository.rsync_excludes[2]"), "repository.rsyncExcludes[2]");
    assert.equal(camelPath("repository.secret_scanning.config_path"), "repository.secretScanning.configPath");
  });

  it("host, port and user may come from other resources: taken out of validation and supplied per VM", () => {
    const host = pulumi.output("10.9.9.9");
    const user = pulumi.output("deploy");
    // loadSettings checks the local files: a real key and a folder for the checkout.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "settings-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "id")]).status, 0);
    const typedHere = () => {
      const d = typedDoc();
      Object.assign(d.ssh, { keyPath: path.join(dir, "id") });
      Object.assign(d.repository, { mainRepoPath: dir });
      return d;
    };
    const doc = typedHere();
    const { config, supplied } = loadSettings({ ...doc, vms: { vm01: { host, sshUser: user, sshPort: 2222 } } });
    assert.equal(supplied.vm01.host, host);
    assert.equal(supplied.vm01.user, user);
    assert.equal(config.targets[0].port, 2222);
    assert.equal(config.targets[0].user, "");
    // Settings given twice are refused.
    assert.throws(() => loadSettings({ ...doc, configPath: "configs/config.yml" }), /give the settings one way, not configPath and ssh\/vms\/repository/);
    // A user left out with nothing to supply it is still missing, named the typed way.
    const noUser = typedHere();
    delete (noUser.vms.vm01 as { sshUser?: string }).sshUser;
    assert.throws(() => loadSettings(noUser), (err: Error) => {
      assert.match(err.message, /^invalid configuration in the RepoSync arguments \(1 problem\):\n {2}- vms\.vm01\.sshUser: is missing\n {2}fix: /);
      assert.match(err.message, /fix: fix the settings listed above; each is documented on its type/);
      return true;
    });
  });
});
