import * as assert from "node:assert/strict";
import { advanceRecord, KEEP_GENERATIONS, pairKey, parseRecord } from "../../lib/scan/cleanRecord";
import { parseRawDiff } from "../../lib/source/exportTree";
import { isCheckoutSafePath } from "../../lib/source/treeListing";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("incremental parts (pure)", () => {
  it("the clean record round-trips odd paths and ignores damaged lines", () => {
    const text = `3\t${A}\t"src/app.py"\n2\t${B}\t"tab\\there\\nnewline"\ngarbage\n1\t${A}\tunquoted\n`;
    const r = parseRecord(text);
    assert.deepEqual([...r.entries()], [[pairKey({ id: A, path: "src/app.py" }), 3], [pairKey({ id: B, path: "tab\there\nnewline" }), 2]]);
  });

  it("advancing keeps the last trees' pairs only", () => {
    let r = advanceRecord(new Map(), [{ id: A, path: "old.txt" }]);
    for (let i = 0; i < KEEP_GENERATIONS - 1; i++) r = advanceRecord(r, [{ id: B, path: "kept.txt" }]);
    assert.equal(r.has(pairKey({ id: A, path: "old.txt" })), true, "still within the last trees");
    r = advanceRecord(r, [{ id: B, path: "kept.txt" }]);
    assert.equal(r.has(pairKey({ id: A, path: "old.txt" })), false, "dropped once older than the last trees");
    assert.equal(r.size, 1);
  });

  it("parses git diff --raw -z (the record layout git 2.39 prints), every status and mode", () => {
    const raw = [
      `:100644 100644 ${A} ${B} M`, "src/app.py",
      `:100644 000000 ${A} ${"0".repeat(40)} D`, "gone dir/with space.txt",
      `:000000 120000 ${"0".repeat(40)} ${B} A`, "link",
      `:120000 100644 ${A} ${B} T`, "was-link",
      `:160000 160000 ${A} ${B} M`, "vendor/lib",
      "",
    ].join("\0");
    assert.deepEqual(parseRawDiff(raw).map((c) => [c.status, c.oldMode, c.newMode, c.path]), [
      ["M", "100644", "100644", "src/app.py"], ["D", "100644", "000000", "gone dir/with space.txt"], ["A", "000000", "120000", "link"],
      ["T", "120000", "100644", "was-link"], ["M", "160000", "160000", "vendor/lib"],
    ]);
    assert.deepEqual(parseRawDiff(""), []);
  });

  it("writes by hand only the paths git would check out", () => {
    for (const ok of ["a", "src/app.py", "a b/ünï.txt", ".gitignore", "x/.github/y", "..x", "x.."]) assert.equal(isCheckoutSafePath(ok), true, ok);
    for (const bad of ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".git/config", "x/.GIT/hooks/post-checkout", "..", "."]) assert.equal(isCheckoutSafePath(bad), false, bad);
  });
});
