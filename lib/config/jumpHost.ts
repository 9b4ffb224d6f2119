/**
 * A jump host as the config writes it, `[user@]host[:port]` like OpenSSH's ProxyJump (pure).
 */
import type { JumpHostSpec } from "./types";

/** `[user@]host[:port]`, `[user@][v6]:port`: a hop written the ProxyJump way, or why it is not one (pure). */
export function parseJumpHost(text: string): JumpHostSpec | { problem: string } {
  const m = /^(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(text);
  if (!m) return { problem: `${JSON.stringify(text)} is not [user@]host[:port]` };
  const host = m[2].replace(/^\[|\]$/g, "");
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return { problem: `${JSON.stringify(text)}: port ${port} is not from 1 to 65535` };
  return { host, ...(port !== undefined ? { port } : {}), ...(m[1] !== undefined ? { user: m[1] } : {}) };
}
