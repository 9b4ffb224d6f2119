import * as assert from "node:assert/strict";
import { entryMatches, findHostKeys, hostLookupName, parseKnownHosts } from "../../lib/config/knownHosts";

const K1 = "AAAAC3NzaC1lZDI1NTE5AAAAIBnhV2QfYQ3Bq2b2FZkHmc1p6Gq3cQ0v6oN0lq1QqY9X";
const K2 = "AAAAC3NzaC1lZDI1NTE5AAAAIPkk4kQ0fGkqHc4w7cZ0xF5Wc2ZbS1eZ3QG7n7g3h2aQ";

/** A known_hosts file as OpenSSH 9.2 writes and reads it; the hashed lines are `ssh-keygen -H` output. */
const FILE = [
  "# comment",
  "",
  `|1|bfbOrLXh0zNGOEimDjvT9NTXsqo=|IXS7Me37qwLKcU9z6jZNkGc2d5M= ssh-ed25519 ${K1}`, // 127.0.0.170
  `|1|093rwMYtUUC20yMLFyd+zz6a9GY=|yW0zDSfajMksgUxagkQQRfUrmFU= ssh-ed25519 ${K2}`, // [10.0.0.5]:2222
  `10.1.*.*,!10.1.9.9 ssh-ed25519 ${K1}`,
  `web?.example.com ssh-ed25519 ${K2}`,
  `@revoked 10.2.0.1 ssh-ed25519 ${K2}`,
  `@cert-authority *.example.com ssh-ed25519 ${K1}`,
  "broken line",
  `10.3.0.1 ssh-ed25519 not*base64`,
].join("\n");

describe("known_hosts (pure; what the config check looks up before any connection)", () => {
  const entries = parseKnownHosts(FILE);

  it("parses plain, hashed, pattern and @revoked lines; skips comments, @cert-authority and broken lines", () => {
    assert.deepEqual(entries.map((e) => [e.line, e.revoked, e.patterns.length]), [[3, false, 1], [4, false, 1], [5, false, 2], [6, false, 1], [7, true, 1]]);
  });

  const cases: Array<[string, number, number, string[]]> = [
    ["127.0.0.170", 22, 1, [K1]], // hashed, port 22
    ["10.0.0.5", 2222, 1, [K2]], // hashed [host]:port
    ["10.0.0.5", 22, 0, []], // the same host on another port is another name
    ["10.1.2.3", 22, 1, [K1]], // wildcard
    ["10.1.9.9", 22, 0, []], // negated
    ["WEB1.example.com", 22, 1, [K2]], // ? and case
    ["web12.example.com", 22, 0, []],
    ["10.2.0.1", 22, 1, [K2]], // a revoked key is found (OpenSSH then refuses it)
    ["10.3.0.1", 22, 0, []], // the broken line holds no key
  ];
  for (const [host, port, n, keys] of cases) {
    it(`${hostLookupName(host, port)}: ${n} key(s)`, () => {
      const found = findHostKeys(entries, host, port);
      assert.deepEqual(found.map((e) => e.key), keys);
    });
  }

  it("a hashed entry matches only its own name", () => {
    const hashed = entries[0];
    assert.equal(entryMatches(hashed, "127.0.0.170"), true);
    assert.equal(entryMatches(hashed, "127.0.0.17"), false);
    assert.equal(entryMatches(hashed, "[127.0.0.170]:22"), false);
  });
});
