/**
 * No import cycles: between files, and between folders (lib/config, lib/remote, lib/sync...,
 * providers, cli). The graph is read from the sources (tools/importGraph.ts), type-only imports too.
 */
import * as assert from "node:assert/strict";
import { cycles, folderGraph, folderOf, importGraph, importsOf } from "../../tools/importGraph";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

describe("import graph: no cycles between files or folders", () => {
  const g = importGraph(PROJECT_ROOT);

  it("reads imports and re-exports, type-only ones too", () => {
    const text = 'import type { A } from "./a";\nimport { b } from "../x/b";\nexport { c } from "./c";\nexport type { D } from "./d";\nimport * as fs from "node:fs";\n';
    assert.deepEqual(importsOf("lib/sync/f.ts", text).sort(), ["lib/sync/a.ts", "lib/sync/c.ts", "lib/sync/d.ts", "lib/x/b.ts"]);
    assert.ok(g.size > 50, `the product's files are read (${g.size})`);
    assert.ok((g.get("lib/sync/converge.ts") ?? []).includes("lib/sync/convergeRelease.ts"));
  });

  it("finds a cycle when there is one (the checker itself)", () => {
    assert.deepEqual(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])), [["a", "b", "c"]]);
    assert.equal(folderOf("lib/sync/x.ts"), "lib/sync");
    assert.equal(folderOf("lib/errors.ts"), "lib");
    assert.equal(folderOf("lib/api.ts"), "lib (entry)");
  });

  it("has no cycle between files", () => {
    assert.deepEqual(cycles(g), []);
  });

  it("has no cycle between folders", () => {
    const folders = folderGraph(g);
    assert.deepEqual(cycles(folders), [], [...folders].map(([k, v]) => `${k} -> ${v.join(", ")}`).join("\n"));
  });
});
