/**
 * The OpenSSH client config files a connection without `-F` reads: the user's `~/.ssh/config`, the
 * system's `/etc/ssh/ssh_config`, and every file their `Include` lines name (ssh_config(5): relative
 * paths from `~/.ssh` or `/etc/ssh`, `~` for the home folder, wildcards). Their contents are part of a
 * kept connection's identity (sshMaster.ts): a config edited since the master opened may send the
 * same host name elsewhere. Read once per process.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The most files followed (a config that includes itself, or a very large tree, stops there). */
const MAX_FILES = 64;

let cached: string[] | undefined;

/** Homes ssh may mean by `~`: the password database's (what ssh uses), and $HOME when it differs. */
function homes(): string[] {
  const out: string[] = [];
  try {
    out.push(os.userInfo().homedir);
  } catch {
    // no entry
  }
  if (process.env.HOME && path.isAbsolute(process.env.HOME) && !out.includes(process.env.HOME)) out.push(process.env.HOME);
  return out;
}

/** The words of an `Include` line (double quotes group words, as ssh reads them) (pure). */
export function includeArgs(line: string): string[] | undefined {
  const m = /^\s*Include(?:\s*=\s*|\s+)(.*)$/i.exec(line);
  if (!m) return undefined;
  const words: string[] = [];
  for (const x of m[1].matchAll(/"([^"]*)"|(\S+)/g)) {
    if (x[2]?.startsWith("#")) break; // a comment to the end of the line
    if ((x[1] ?? x[2]) !== "") words.push(x[1] ?? x[2]);
  }
  return words;
}

/** Paths matching `pattern` (`*`, `?` and `[...]` in any component), sorted like glob(3). */
function expand(pattern: string): string[] {
  const parts = pattern.split("/").filter(Boolean);
  let found = ["/"];
  for (const part of parts) {
    const next: string[] = [];
    const wild = /[*?[]/.test(part);
    const re = wild ? new RegExp(`^${part.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`) : undefined;
    for (const dir of found) {
      if (!re) next.push(path.join(dir, part));
      else {
        try {
          for (const name of fs.readdirSync(dir).sort()) if (!name.startsWith(".") && re.test(name)) next.push(path.join(dir, name));
        } catch {
          // not a folder
        }
      }
    }
    found = next;
  }
  return found;
}

/** Every config file an ssh without `-F` may read, in order (existing or not: a new file changes the identity). */
export function sshConfigFiles(): string[] {
  if (cached) return cached;
  const userDirs = homes().map((h) => path.join(h, ".ssh"));
  const queue: Array<{ file: string; base: string }> = [...userDirs.map((d) => ({ file: path.join(d, "config"), base: d })), { file: "/etc/ssh/ssh_config", base: "/etc/ssh" }];
  const out: string[] = [];
  while (queue.length > 0 && out.length < MAX_FILES) {
    const { file, base } = queue.shift() as { file: string; base: string };
    if (out.includes(file)) continue;
    out.push(file);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      for (const arg of includeArgs(line) ?? []) {
        const abs = arg.startsWith("~/") ? homes().map((h) => path.join(h, arg.slice(2))) : [path.isAbsolute(arg) ? arg : path.join(base, arg)];
        for (const p of abs) for (const f of expand(p)) queue.push({ file: f, base });
      }
    }
  }
  cached = out;
  return out;
}
