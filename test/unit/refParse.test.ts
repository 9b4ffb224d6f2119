import * as assert from "node:assert/strict";
import { deployedFrom, normalizeInputs, validateInputs } from "../../providers/inputs";
import { isRepoSyncError } from "../../lib/errors";
import { describeRef, parseRef, refOrBranch } from "../../lib/source/ref";

// `ref` as written: what is looked up (a name, a commit prefix, an explicit branch or tag, a full
// SHA), and what is refused before git or any VM is asked, with the reason a user reads.

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("ref parsing (pure)", () => {
  const accepted: Array<[string, ReturnType<typeof parseRef>]> = [
    ["main", { name: "main", hex: false }],
    ["release/1.2", { name: "release/1.2", hex: false }],
    ["v1.2.0", { name: "v1.2.0", hex: false }],
    ["feature/ünï-code", { name: "feature/ünï-code", hex: false }],
    ["cafe", { name: "cafe", hex: true }],
    ["1a2b3c4", { name: "1a2b3c4", hex: true }],
    ["abc", { name: "abc", hex: false }],
    ["ABCDEF1", { name: "ABCDEF1", hex: false }],
    [SHA, { kind: "commit", sha: SHA }],
    ["refs/heads/main", { kind: "branch", name: "main" }],
    ["refs/tags/v1", { kind: "tag", name: "v1" }],
    ["refs/tags/cafe", { kind: "tag", name: "cafe" }],
  ];
  for (const [ref, want] of accepted) it(`reads ${JSON.stringify(ref)}`, () => assert.deepEqual(parseRef(ref), want));

  const refused: Array<[string, RegExp]> = [
    ["", /is empty/],
    ["-x", /starts with `-` and would be read as an option/],
    ["--upload-pack=touch /tmp/pwned", /starts with `-`/],
    ["HEAD", /names whatever the checkout holds/],
    ["FETCH_HEAD", /names whatever the checkout holds/],
    ["@", /names whatever the checkout holds/],
    ["HEAD~1", /revision syntax/],
    ["main~3", /revision syntax/],
    ["main^2", /revision syntax/],
    ["v1^{}", /revision syntax/],
    ["v1^{tree}", /revision syntax/],
    ["main@{1}", /reflog syntax/],
    ["@{-1}", /reflog syntax/],
    ["a..b", /a range/],
    ["a...b", /a range/],
    ["v1:src/app.py", /contains `:`/],
    [":/fix", /contains `:`/],
    ["main:main", /contains `:`/],
    ["my branch", /space or control character/],
    ["a\tb", /space or control character/],
    ["v1\n--force", /space or control character/],
    ["a\u0000b", /space or control character/],
    ["v1\u202egnp.exe", /space or control character/],
    ["v1\u00a0", /space or control character/],
    ["v1\u200b", /space or control character/],
    ["feat*", /pattern character/],
    ["a[1]", /pattern character/],
    ["a\\b", /pattern character/],
    ["refs/remotes/origin/main", /outside refs\/heads\/ and refs\/tags\//],
    ["refs/heads/-x", /not a valid git ref name \("-x" starts with `-`/],
    ["refs/tags/", /not a valid git ref name \("" is empty\)/],
    ["main.lock", /not a valid git ref name/],
    [".hidden", /not a valid git ref name/],
    ["a/.b", /not a valid git ref name/],
    ["a//b", /not a valid git ref name/],
    ["main/", /not a valid git ref name/],
    ["x".repeat(300), /longer than 256 characters/],
  ];
  for (const [ref, why] of refused) {
    it(`refuses ${JSON.stringify(ref.length > 40 ? `${ref.slice(0, 20)}...` : ref)}`, () => {
      const p = parseRef(ref);
      assert.ok("problem" in p, JSON.stringify(p));
      assert.match(p.problem, why);
    });
  }

  it("branch and ref together are refused, naming both; either alone passes", () => {
    assert.throws(() => refOrBranch({ branch: "main", ref: "v1" }), (err: unknown) => {
      assert.ok(isRepoSyncError(err));
      assert.equal(err.kind, "config");
      assert.match(err.message, /both branch "main" and ref "v1" are set; set one of them/);
      return true;
    });
    assert.equal(refOrBranch({ ref: "v1" }), "v1");
    assert.equal(refOrBranch({ branch: "main" }), undefined);
    assert.equal(refOrBranch({}), undefined);
  });

  it("describes a ref by kind; a commit by its first 12 hex digits", () => {
    assert.equal(describeRef("tag", "v1"), "tag v1");
    assert.equal(describeRef("branch", "release/1.2"), "branch release/1.2");
    assert.equal(describeRef("commit", SHA), "commit 0123456789ab");
    assert.equal(describeRef("commit", "1a2b3c4"), "commit 1a2b3c4");
  });

  it("a target's message names the commit and the ref; without a ref, the branch", () => {
    assert.equal(deployedFrom({ commit: SHA, branch: "main", ref: "v1", refKind: "tag" }), "0123456789ab (tag v1)");
    assert.equal(deployedFrom({ commit: SHA, branch: "main", ref: "0123456", refKind: "commit" }), "0123456789ab (commit 0123456)");
    assert.equal(deployedFrom({ commit: SHA, branch: "main" }), "0123456789ab (branch main)");
  });

  it("a target's ref input is checked like the program's", () => {
    const base = { vm: "vm01", host: "10.0.0.11", user: "deploy", keyPath: "/k/id", knownHostsPath: "/k/known_hosts", path: "/srv/app", repoPath: "/repo", commit: SHA };
    assert.deepEqual(validateInputs(normalizeInputs({ ...base, ref: "v1", refKind: "tag" })), []);
    const bad = validateInputs(normalizeInputs({ ...base, ref: "HEAD~1", refKind: "sha" }));
    assert.deepEqual(bad.map((f) => f.property), ["ref", "refKind"]);
    assert.match(bad[0].reason, /^vm01: ref "HEAD~1" is revision syntax/);
    // Absent when the program had no ref: stacks that never set one keep identical inputs.
    assert.equal("ref" in normalizeInputs(base), false);
  });
});
