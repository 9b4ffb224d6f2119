import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { parseEngineJson, parseUpJson, PROJECT_ROOT, projectFromFixture, PulumiProject } from "../../tools/pulumiCli";

interface PreviewJson {
  steps: Array<{ op: string; urn: string }>;
  changeSummary: Record<string, number>;
}

describe("the real Pulumi engine (CLI + Node.js language host + dynamic provider)", function () {
  this.timeout(240_000);
  let project: PulumiProject;

  before(async () => {
    project = projectFromFixture(path.join(PROJECT_ROOT, "test", "engine", "fixtures", "trivial"));
    await project.init();
  });
  after(() => project?.dispose());

  it("previews a create with --json", async () => {
    const preview = parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));
    const ops = preview.steps.map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    assert.deepEqual(ops, ["create trivial-dev", "create greeting"]);
    assert.equal(preview.changeSummary.create, 2);
  });

  it("deploys with `up`, records state, and a second preview plans nothing", async () => {
    const up = await project.ok(["up", "--yes", "--json"]);
    const summary = parseUpJson(up).events.find((e) => e.summaryEvent)?.summaryEvent;
    assert.deepEqual(summary?.resourceChanges, { create: 2 });
    assert.equal(summary?.result, "succeeded");
    assert.deepEqual(await project.outputs(), { greeting: "hello world" });

    const state = await project.exportState();
    const res = state.deployment.resources?.find((r) => r.type === "pulumi-nodejs:dynamic:Resource");
    assert.ok(res, "dynamic resource in state");
    assert.equal(res.id, "greeting-world");
    assert.equal(res.outputs?.greeting, "hello world");
    assert.match(String(res.inputs?.__provider), /hello/, "serialized provider stored in state");

    const again = await project.run(["preview", "--expect-no-changes", "--json"]);
    assert.equal(again.code, 0, again.stderr);
  });

  it("updates on a config change and destroys", async () => {
    await project.ok(["config", "set", "who", "fleet"]);
    const pre = await project.run(["preview", "--expect-no-changes"]);
    assert.notEqual(pre.code, 0, "a planned update must fail --expect-no-changes");
    await project.ok(["up", "--yes"]);
    assert.deepEqual(await project.outputs(), { greeting: "hello fleet" });
    await project.ok(["destroy", "--yes"]);
    const state = await project.exportState();
    assert.equal(state.deployment.resources?.length ?? 0, 0);
  });
});

/** A trivial dynamic resource for the inline program. */
class Doubled extends pulumi.dynamic.Resource {
  declare readonly doubled: pulumi.Output<number>;
  constructor(name: string, args: { n: number; doubled: undefined }) {
    super(
      {
        async create(inputs: { n: number }) {
          return { id: `n${inputs.n}`, outs: { n: inputs.n, doubled: inputs.n * 2 } };
        },
      },
      name,
      args,
    );
  }
}

describe("the Automation API (LocalWorkspace, inline program)", function () {
  this.timeout(240_000);

  it("runs preview, up and destroy of an inline program on a file backend", async () => {
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-auto-"));
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-auto-ws-"));
    // The dynamic-provider launcher resolves @pulumi/pulumi from the workspace folder.
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(workDir, "node_modules"));
    try {
      const stack = await LocalWorkspace.createStack(
        {
          stackName: "auto",
          projectName: "auto-trivial",
          program: async () => {
            const r = new Doubled("double", { n: 21, doubled: undefined });
            return { doubled: r.doubled };
          },
        },
        {
          workDir,
          projectSettings: { name: "auto-trivial", runtime: "nodejs", backend: { url: `file://${backend}` } },
          envVars: { PULUMI_CONFIG_PASSPHRASE: "test-passphrase", PULUMI_BACKEND_URL: `file://${backend}` },
        },
      );
      const preview = await stack.preview();
      assert.equal(preview.changeSummary.create, 2);
      const up = await stack.up();
      assert.equal(up.summary.result, "succeeded");
      assert.equal(up.outputs.doubled.value, 42);
      const destroyed = await stack.destroy();
      assert.equal(destroyed.summary.result, "succeeded");
    } finally {
      fs.rmSync(backend, { recursive: true, force: true });
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });
});
