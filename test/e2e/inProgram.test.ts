/**
 * repo-sync as a package another Pulumi program installs: `npm pack` of this clone, installed into
 * examples/in-program (a program that creates its VMs with @pulumi/command local.Command and syncs to
 * them with the RepoSync component in the same `pulumi up`), then up, a clean preview, drift shown and
 * repaired, a new commit, destroy. The dynamic provider must run from the installed package. Each VM's
 * host key comes from the resource that creates it: there is no known_hosts file (HOME is empty).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { PROJECT_ROOT, PulumiProject, runCollect } from "../../tools/pulumiCli";

const FIRST_OCTET = 51;

/** `npm pack` of this clone (already built: no prepack, dist/ is in use by other tests). */
async function packThisClone(dest: string): Promise<{ tarball: string; files: string[] }> {
  const r = await runCollect("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dest], { cwd: PROJECT_ROOT, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: path.join(dest, info.filename), files: info.files.map((f) => f.path) };
}

describe("examples/in-program: the packed package in another program that creates its VMs (real engine, real plugin)", function () {
  this.timeout(600_000);
  let work: string;
  let repo: SourceRepo;
  let project: PulumiProject;
  let vmDir: string;
  let packed: { tarball: string; files: string[] };
  let home: string;
  /** known_hosts files the run could have used: the default one (HOME's) and the example's former one. */
  const knownHostsFiles = () => [path.join(home, ".ssh", "known_hosts"), path.join(vmDir, "known_hosts")].filter((f) => fs.existsSync(f));
  const appDir = (vm: string) => path.join(vmDir, vm, "files", "app");
  const deploys = (vm: string) => {
    const f = path.join(vmDir, vm, "files", "deploys.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [];
  };

  before(async function () {
    if (spawnSync("sh", ["-c", "command -v pulumi-resource-command"]).status !== 0) {
      throw new Error("pulumi-resource-command is not on PATH: run ./run.sh setup (see its warning for what is missing)");
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-inprog-"));
    packed = await packThisClone(work);
    const example = path.join(work, "example");
    fs.cpSync(path.join(PROJECT_ROOT, "examples", "in-program"), example, { recursive: true });
    // The example's own dependencies and the packed repo-sync, as a user would install them.
    const npm = await runCollect("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", packed.tarball], { cwd: example, timeoutMs: 480_000 });
    assert.equal(npm.code, 0, `npm install failed:\n${npm.stdout}\n${npm.stderr}`);
    repo = makeSourceRepo();
    const key = path.join(work, "id_ed25519");
    assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status, 0);
    vmDir = path.join(work, "vms");
    const backend = fs.mkdtempSync(path.join(work, "backend-"));
    home = fs.mkdtempSync(path.join(work, "home-"));
    project = new PulumiProject(example, backend, "dev", { HOME: home });
    await project.init();
    for (const [k, v] of Object.entries({ repoPath: repo.path, keyPath: key, vmDir, firstOctet: String(FIRST_OCTET) })) {
      await project.ok(["config", "set", `repo-sync-in-program:${k}`, v]);
    }
  });
  after(() => {
    // Whatever a failed test left running.
    if (vmDir) spawnSync("pkill", ["-KILL", "-f", `${vmDir}/`]);
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("the package holds the component, its types and the provider, not the tests or tools", () => {
    for (const f of ["dist/providers/index.js", "dist/providers/index.d.ts", "dist/providers/runtime.js", "dist/lib/index.d.ts", "dist/cli/main.js", "bin/repo-sync", "package.json"]) {
      assert.ok(packed.files.includes(f), `${f} is in the package`);
    }
    assert.deepEqual(packed.files.filter((f) => /^dist\/(test|tools|bench|demo)\/|\.map$|^dist\/index\.js$/.test(f)), []);
  });

  it("a typed TypeScript program compiles against the packed package, and a misspelled setting is a compile error", async () => {
    const dir = path.join(work, "example");
    const program = (repository: string, vm: string) => [
      'import * as pulumi from "@pulumi/pulumi";',
      'import { RepoSync, type RepositoryArgs } from "repo-sync";',
      'const host = pulumi.output("127.0.0.1");',
      `const repository: RepositoryArgs = { ${repository} };`,
      'export const app = new RepoSync("app", {',
      '  ssh: { keyPath: "/k/id", knownHostsPath: "/k/known_hosts", connectTimeoutS: 5 },',
      `  vms: { vm01: { host, ${vm}, sshPort: pulumi.output(22), jumpHosts: ["ops@bastion", { host: "b2", keyPath: "/k/b2" }] } },`,
      '  repository,',
      '  ref: pulumi.output("v1"),',
      '  force: "1",',
      "});",
      "",
    ].join("\n");
    const good = 'mainRepoPath: ".", vmRepoPaths: { vm01: "/srv/app/x" }, maxDelete: 5, layout: "releases", secretScanning: { blockOnSecrets: true }';
    // A user's strict settings; `types: []`: nothing but what the program imports.
    const tsc = (file: string) => {
      const compilerOptions = { noEmit: true, strict: true, skipLibCheck: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", types: [] };
      fs.writeFileSync(path.join(dir, `tsconfig.${file}.json`), JSON.stringify({ compilerOptions, files: [file] }));
      return runCollect(process.execPath, [path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", `tsconfig.${file}.json`], { cwd: dir, timeoutMs: 120_000 });
    };
    fs.writeFileSync(path.join(dir, "typed.ts"), program(good, 'sshUser: pulumi.output("root")'));
    const ok = await tsc("typed.ts");
    assert.equal(ok.code, 0, `the typed program should compile:\n${ok.stdout}${ok.stderr}`);
    fs.writeFileSync(path.join(dir, "typo.ts"), program(good.replace("maxDelete", "maxDelet"), 'sshUsr: "root"'));
    const bad = await tsc("typo.ts");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout, /typo\.ts\(4,.*'maxDelet' does not exist in type 'RepositoryArgs'/);
    assert.match(bad.stdout, /typo\.ts\(7,.*'sshUsr' does not exist in type 'VmArgs'/);
    // The example itself (JavaScript, `// @ts-check`) is checked against the package's types as it is deployed below.
    const example = await runCollect(process.execPath, [path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "--allowJs", "--checkJs", "--strict", "--skipLibCheck", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--typeRoots", path.join(PROJECT_ROOT, "node_modules", "@types"), "--types", "node", "index.js"], { cwd: dir, timeoutMs: 120_000 });
    assert.equal(example.code, 0, `examples/in-program/index.js should type-check against the package:\n${example.stdout}${example.stderr}`);
    // A value outside a setting's choices too.
    fs.writeFileSync(path.join(dir, "choice.ts"), program(good.replace('"releases"', '"release"'), 'sshUser: "root"'));
    assert.match((await tsc("choice.ts")).stdout, /choice\.ts\(4,.*Type '"release"' is not assignable to type '"in_place" \| "releases" \| undefined'/);
  });

  it("one `pulumi up` creates the VMs, then syncs to them; the provider runs from the installed package", async () => {
    const up = await project.ok(["up", "--yes"]);
    const head = repo.head();
    for (const vm of ["vm01", "vm02"]) {
      assert.equal(fs.readFileSync(path.join(appDir(vm), ".sync_rev"), "utf8"), `${head}\n`, vm);
      assert.equal(fs.readFileSync(path.join(appDir(vm), "src/app.py"), "utf8"), "print('hello from th_timmy')\n");
      assert.deepEqual(deploys(vm), [head], `${vm}'s post-sync hook ran once`);
    }
    assert.deepEqual(knownHostsFiles(), [], "the VMs' keys came from their resources: no known_hosts file was needed or made");
    const outputs = await project.outputs();
    assert.equal(outputs.revision, head);
    const drift = { compared: true, counts: { modified: 0, added: 0, deleted: 0 }, modified: [], added: [], deleted: [], more: 0 };
    assert.deepEqual(outputs.vms, {
      vm01: { host: `127.0.0.${FIRST_OCTET}`, path: appDir("vm01"), revision: head, drift },
      vm02: { host: `127.0.0.${FIRST_OCTET + 1}`, path: appDir("vm02"), revision: head, drift },
    });
    // The serialized provider loads its implementation from the package the example installed.
    const state = JSON.stringify(await project.exportState());
    assert.ok(state.includes(path.join(project.dir, "node_modules", "repo-sync", "dist", "providers", "runtime.js")), "provider path is the installed package's");
    assert.equal(state.includes(path.join(PROJECT_ROOT, "dist")), false, "nothing in state points into this clone");
    assert.doesNotMatch(up.stderr, /error/i);
  });

  it("a second preview plans no changes", async () => {
    const r = await project.run(["preview", "--expect-no-changes"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  });

  it("a hand edit on vm02 shows in preview and `up` repairs it (the hook does not run again: same revision)", async () => {
    fs.writeFileSync(path.join(appDir("vm02"), "src/app.py"), "hand edit\n");
    const preview = await project.run(["preview", "--expect-no-changes", "--diff"]);
    assert.notEqual(preview.code, 0);
    assert.match(preview.stdout, /vm02[\s\S]*(drift|differ)/i);
    // A repair lands no new commit: no hook step at all (no replace, no update), and only vm02 changes.
    assert.doesNotMatch(preview.stdout, /command:remote:Command/, preview.stdout);
    assert.match(preview.stdout, /~ 1 to update/);
    assert.doesNotMatch(preview.stdout, /to replace/);
    const up = await project.ok(["up", "--yes"]);
    // The provider, run from the installed package, says it on vm02's target (the engine's Log call), not under the stack.
    assert.match(up.stdout, /RepoSyncTarget \(\S*vm02\):\n {4}vm02: tree drift: 1 modified, 0 added, 0 deleted \(modified: src\/app\.py\); up deploys [0-9a-f]{12} \(branch main\)\n {4}vm02: repaired /);
    assert.equal(fs.readFileSync(path.join(appDir("vm02"), "src/app.py"), "utf8"), "print('hello from th_timmy')\n");
    assert.equal(deploys("vm02").length, 1);
  });

  it("a new commit lands on both VMs and runs each hook once more", async () => {
    const next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    await project.ok(["up", "--yes"]);
    for (const vm of ["vm01", "vm02"]) {
      assert.equal(fs.readFileSync(path.join(appDir(vm), "src/app.py"), "utf8"), "print('v2')\n");
      assert.equal(deploys(vm).at(-1), next);
      assert.equal(deploys(vm).length, 2);
    }
  });

  it("pins a tag, then a SHA (a rollback) through `ref`; preview names the commit; each lands with its hook", async () => {
    const first = deploys("vm01")[0];
    const second = deploys("vm01").at(-1) ?? "";
    repo.git("tag", "v1", first);
    await project.ok(["config", "set", "repo-sync-in-program:ref", "v1"]);
    const preview = await project.ok(["preview", "--diff"]);
    assert.match(preview.stdout + preview.stderr, new RegExp(`up deploys ${first.slice(0, 12)} \\(tag v1\\)`));
    await project.ok(["up", "--yes"]);
    for (const vm of ["vm01", "vm02"]) {
      assert.equal(fs.readFileSync(path.join(appDir(vm), ".sync_rev"), "utf8"), `${first}\n`, vm);
      assert.equal(fs.readFileSync(path.join(appDir(vm), "src/app.py"), "utf8"), "print('hello from th_timmy')\n");
      assert.equal(deploys(vm).at(-1), first);
    }
    await project.ok(["config", "set", "repo-sync-in-program:ref", second.slice(0, 10)]);
    await project.ok(["up", "--yes"]);
    for (const vm of ["vm01", "vm02"]) assert.equal(fs.readFileSync(path.join(appDir(vm), ".sync_rev"), "utf8"), `${second}\n`, vm);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0, "the pinned SHA is the desired state");
    await project.ok(["config", "rm", "repo-sync-in-program:ref"]);
  });

  it("`pulumi destroy` removes the targets, then the VMs (their sshd stopped, their files gone)", async () => {
    await project.ok(["destroy", "--yes"]);
    for (const vm of ["vm01", "vm02"]) assert.equal(fs.existsSync(path.join(vmDir, vm)), false, `${vm} is gone`);
    assert.deepEqual(knownHostsFiles(), []);
    assert.notEqual(spawnSync("pgrep", ["-f", `${vmDir}/`]).status, 0, "no sshd of the example is left");
  });
});
