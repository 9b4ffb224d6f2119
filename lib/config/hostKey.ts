/**
 * A VM's public host key as a program gives it (`hosts.<id>.hostKey`): the form @pulumi/command's
 * `connection.hostKey` takes and a VM's `/etc/ssh/ssh_host_*_key.pub` holds, `ssh-ed25519 AAAA...`
 * with an optional comment. Parsed strictly, because it decides which machine repo-sync trusts with
 * a `--delete`: one line, a key type OpenSSH uses for host keys, base64 that decodes to a well-formed
 * key of that same type; no known_hosts syntax (host patterns, `@revoked`, `@cert-authority`) and no
 * authorized_keys options. Also the known_hosts line that pins it. Pure.
 */
import { createHash, createPublicKey } from "node:crypto";
import { hostLookupName } from "./knownHosts";

/** A parsed host key: its type and its base64 key data (the comment is dropped). */
export interface HostKey {
  type: string;
  /** Canonical base64 of the key blob. */
  blob: string;
}

/** ECDSA curves: the curve name inside the blob and the length of its uncompressed point. */
const CURVES: Record<string, { curve: string; point: number; jwk: string }> = {
  "ecdsa-sha2-nistp256": { curve: "nistp256", point: 65, jwk: "P-256" },
  "ecdsa-sha2-nistp384": { curve: "nistp384", point: 97, jwk: "P-384" },
  "ecdsa-sha2-nistp521": { curve: "nistp521", point: 133, jwk: "P-521" },
  "sk-ecdsa-sha2-nistp256@openssh.com": { curve: "nistp256", point: 65, jwk: "P-256" },
};

/** The key types OpenSSH accepts as host keys (DSA is gone from OpenSSH; certificates come through @cert-authority). */
export const HOST_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"] as const;

/** The longest key text accepted (a 16384-bit RSA key, OpenSSH's limit, is about 2.8 KB). */
const MAX_LENGTH = 8192;

const GIVE = "give only the public key, `TYPE BASE64 [comment]` (e.g. the VM's /etc/ssh/ssh_host_ed25519_key.pub)";

/** Reads SSH wire-format fields (RFC 4251 `string`s) from a key blob. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  string(): Buffer | undefined {
    if (this.at + 4 > this.buf.length) return undefined;
    const n = this.buf.readUInt32BE(this.at);
    if (this.at + 4 + n > this.buf.length) return undefined;
    const s = this.buf.subarray(this.at + 4, this.at + 4 + n);
    this.at += 4 + n;
    return s;
  }
  get done(): boolean {
    return this.at === this.buf.length;
  }
}

/** Why the fields after the type name are not a key of `type` (pure), or undefined. */
function keyDataProblem(type: string, r: Reader): string | undefined {
  if (type === "ssh-ed25519" || type === "sk-ssh-ed25519@openssh.com") {
    if (r.string()?.length !== 32) return "its Ed25519 public key is not 32 bytes";
  } else if (type in CURVES) {
    const { curve, point, jwk } = CURVES[type];
    const name = r.string()?.toString("latin1");
    if (name !== curve) return `its curve is ${JSON.stringify(name ?? "")}, not ${curve}`;
    const q = r.string();
    if (q?.length !== point || q[0] !== 4) return `its ${curve} point is not ${point} bytes, uncompressed`;
    if (!onCurve(q, jwk)) return `its point is not on ${curve}`;
  } else if (type === "ssh-rsa") {
    const e = r.string();
    const n = r.string();
    if (!e || !n || !positiveMpint(e) || !positiveMpint(n)) return "its RSA exponent or modulus is malformed";
    const bits = (n.length - (n[0] === 0 ? 1 : 0)) * 8;
    if (bits < 1024 || bits > 16384) return `its RSA modulus has about ${bits} bits (OpenSSH takes 1024 to 16384)`;
  }
  if (type.startsWith("sk-")) {
    const app = r.string();
    if (!app || app.length === 0) return "its security-key application is missing";
  }
  return r.done ? undefined : "its key data has bytes after the key";
}

/** An uncompressed point (0x04 || x || y) that OpenSSL takes as a public key on `crv` (as OpenSSH would). */
function onCurve(q: Buffer, crv: string): boolean {
  const half = (q.length - 1) / 2;
  try {
    createPublicKey({ key: { kty: "EC", crv, x: q.subarray(1, 1 + half).toString("base64url"), y: q.subarray(1 + half).toString("base64url") }, format: "jwk" });
    return true;
  } catch {
    return false;
  }
}

/** An SSH `mpint` that is positive and minimally encoded. */
function positiveMpint(b: Buffer): boolean {
  if (b.length === 0 || (b[0] & 0x80) !== 0) return false;
  return !(b[0] === 0 && (b.length === 1 || (b[1] & 0x80) === 0));
}

/** Canonical base64 (what OpenSSH writes): decoded and encoded again, the same text. */
function decodeBase64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const b = Buffer.from(s, "base64");
  return b.toString("base64") === s ? b : undefined;
}

/** The key in `text`, or why it is not a host key repo-sync can pin (pure). */
export function parseHostKey(text: unknown): { key: HostKey } | { problem: string } {
  const fail = (problem: string) => ({ problem });
  if (typeof text !== "string") return fail(`is a ${text === null ? "null" : typeof text}, not a string`);
  if (text.length > MAX_LENGTH) return fail(`is ${text.length} characters long; no host key is longer than ${MAX_LENGTH}`);
  if (/[\r\n]/.test(text)) return fail(`holds a line break; ${GIVE}, on one line (trim a trailing newline)`);
  if (/[\x00-\x08\x0b-\x1f\x7f]/.test(text)) return fail("holds control characters");
  const fields = text.trim().split(/[ \t]+/);
  const [first, second] = fields;
  if (first === "") return fail(`is empty; ${GIVE}`);
  if (first.startsWith("@")) return fail(`starts with the known_hosts marker ${JSON.stringify(first.slice(0, 20))}, which is not a key; ${GIVE}`);
  if (!(HOST_KEY_TYPES as readonly string[]).includes(first)) {
    if (fields.slice(1).some((f) => (HOST_KEY_TYPES as readonly string[]).includes(f))) return fail(`starts with host names, patterns or options (${JSON.stringify(first.slice(0, 40))}) before the key type; ${GIVE}`);
    return fail(`starts with ${JSON.stringify(first.slice(0, 40))}, not a host key type OpenSSH uses (${HOST_KEY_TYPES.join(", ")})`);
  }
  if (second === undefined) return fail(`has no key data after ${first}; ${GIVE}`);
  const blob = decodeBase64(second);
  if (!blob) return fail(`has key data after ${first} that is not base64 as OpenSSH writes it`);
  const r = new Reader(blob);
  const inner = r.string()?.toString("latin1");
  if (inner !== first) return fail(`says ${first} but its key data is ${inner === undefined ? "not an SSH key" : `a ${JSON.stringify(inner.slice(0, 40))} key`}`);
  const why = keyDataProblem(first, r);
  return why ? fail(`is not a well-formed ${first} key: ${why}`) : { key: { type: first, blob: second } };
}

/** Why `text` is not a host key repo-sync can pin (pure), or undefined. */
export function invalidHostKeyReason(text: unknown): string | undefined {
  const r = parseHostKey(text);
  return "problem" in r ? r.problem : undefined;
}

/** The key as OpenSSH prints its fingerprint: `SHA256:` and unpadded base64 of the blob's SHA-256. */
export function hostKeyFingerprint(k: HostKey): string {
  return `SHA256:${createHash("sha256").update(Buffer.from(k.blob, "base64")).digest("base64").replace(/=+$/, "")}`;
}

/**
 * The name a pinned key is looked up under: `host`, or `[host]:port` off port 22, as OpenSSH writes
 * known_hosts; lower case (OpenSSH compares host names without case). It is also the connection's
 * `HostKeyAlias`, so that the lookup is this name however ssh would spell the host (canonicalized by
 * a user's config, an IPv6 literal, another alias in ~/.ssh/config).
 */
export function pinnedHostName(host: string, port: number): string {
  return hostLookupName(host.toLowerCase(), port);
}

/** The one known_hosts line that pins `key` for host:port (pure). */
export function pinnedKnownHostsLine(host: string, port: number, key: HostKey): string {
  return `${pinnedHostName(host, port)} ${key.type} ${key.blob}\n`;
}
