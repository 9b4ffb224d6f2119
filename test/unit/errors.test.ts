/** The error message: what it shows of a VM's output (never a control character that drives a terminal). */
import * as assert from "node:assert/strict";
import { RepoSyncError } from "../../lib/errors";

describe("error messages", () => {
  it("show control characters from a VM's stderr or a reason as escapes; lines and tabs stay", () => {
    const err = new RepoSyncError("health", "the hook \u001b]0;pwned\u0007 failed", {
      vm: "vm01",
      stderr: "line 1\tok\n\u001b[2J\u001b[31mred\rover\u009b\u202e\u2066",
      hint: "look",
    });
    assert.equal(err.message, [
      "vm01: the hook \\u001b]0;pwned\\u0007 failed",
      "  stderr: line 1\tok",
      "          \\u001b[2J\\u001b[31mred\\u000dover\\u009b\\u202e\\u2066",
      "  fix: look",
    ].join("\n"));
  });
});
