/**
 * known_hosts parsing and matching (OpenSSH's format), so that the configuration check finds a VM's
 * pinned key the way OpenSSH will look it up: plain and hashed (`|1|salt|hash`) names, `[host]:port`,
 * patterns with `*`, `?` and `!negation`, and `@revoked` lines. `@cert-authority` lines are skipped
 * (no certificates here). OpenSSH itself verifies the key on every connection.
 */
import { createHmac } from "node:crypto";

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  /** The comma-separated host patterns, or one hashed name. */
  patterns: string[];
  keyType: string;
  /** Base64 key blob. */
  key: string;
  revoked: boolean;
  line: number;
}

/** Parses known_hosts text; malformed lines and `@cert-authority` lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0].startsWith("@")) {
      if (fields[0] === "@cert-authority") return;
      if (fields[0] !== "@revoked") return;
      revoked = true;
      fields.shift();
    }
    if (fields.length < 3 || !/^[A-Za-z0-9+/]+=*$/.test(fields[2])) return;
    out.push({ patterns: fields[0].split(","), keyType: fields[1], key: fields[2], revoked, line: i + 1 });
  });
  return out;
}

/** The name OpenSSH looks up for a host: `host`, or `[host]:port` when the port is not 22. */
export function hostLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** True when one entry's pattern list matches the lookup name. */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  let matched = false;
  for (const p of entry.patterns) {
    if (p.startsWith("|1|")) {
      if (hashedNameMatches(p, name)) matched = true;
      continue;
    }
    const negated = p.startsWith("!");
    const pattern = negated ? p.slice(1) : p;
    if (globMatch(pattern.toLowerCase(), name.toLowerCase())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Entries (revoked ones included) that apply to host:port. */
export function findHostKeys(entries: KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const name = hostLookupName(host, port);
  return entries.filter((e) => entryMatches(e, name));
}

function hashedNameMatches(pattern: string, name: string): boolean {
  const [, , salt, hash] = pattern.split("|");
  if (!salt || !hash) return false;
  const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
  return mac === hash;
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(s);
}
