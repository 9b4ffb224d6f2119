/**
 * Source repositories for tests: a real git repo standing for vm04's checkout, with helpers to add
 * commits and branches, plant a secret, and make a directory that is not a repo at all.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Files to write: relative path -> content. */
export type FileMap = Record<string, string | Buffer>;

/** A git repo on disk. */
export class SourceRepo {
  constructor(readonly path: string) {}

  /** Runs git in the repo and returns its trimmed stdout. */
  git(...args: string[]): string {
    return execFileSync("git", args, { cwd: this.path, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  }

  /** Writes files (creating folders) without committing. */
  write(files: FileMap): void {
    for (const [rel, content] of Object.entries(files)) {
      const p = path.join(this.path, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }

  /**
   * Writes `files`, removes `remove`, commits just those paths (other untracked files stay untracked)
   * and returns the new commit hash.
   */
  commit(files: FileMap, message = "change", remove: string[] = []): string {
    this.write(files);
    const paths = Object.keys(files);
    if (paths.length > 0) this.git("add", "--", ...paths);
    if (remove.length > 0) this.git("rm", "-r", "-q", "--", ...remove);
    this.git("commit", "-q", "--allow-empty", "-m", message);
    return this.head();
  }

  /** Current HEAD commit hash. */
  head(): string {
    return this.git("rev-parse", "HEAD");
  }

  /** Creates a branch at HEAD (or checks it out with `checkout`). */
  branch(name: string, checkout = false): void {
    if (checkout) this.git("checkout", "-q", "-b", name);
    else this.git("branch", name);
  }

  checkout(name: string): void {
    this.git("checkout", "-q", name);
  }
}

/** A credential shaped like a GitHub token, built at run time so no scanner flags this source. */
export function fakeGithubToken(): string {
  return ["gh", "p_", "x9Kq2LmP7vRt4WzN", "8bYc3HdJ6fGs1AeQ5uVo"].join("");
}

/** A fake AWS key pair line that gitleaks' default rules find. */
export function fakeAwsKeyLine(): string {
  return `aws_access_key_id = ${["AKIA", "Z7QW3RTY", "UIOP4ASD"].join("")}`;
}

/** Creates a repo with an initial commit of `files` on branch `main`. */
export function makeSourceRepo(files: FileMap = defaultFiles(), dir?: string): SourceRepo {
  const p = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-src-"));
  fs.mkdirSync(p, { recursive: true });
  execFileSync("git", ["init", "-q", "-b", "main", p]);
  const repo = new SourceRepo(p);
  repo.git("config", "user.email", "test@repo-sync.invalid");
  repo.git("config", "user.name", "repo-sync test");
  repo.git("config", "commit.gpgsign", "false");
  repo.commit(files, "initial");
  return repo;
}

/** Commits a file holding a secret and returns its path relative to the repo. */
export function plantSecret(repo: SourceRepo, rel = "config/deploy.env"): string {
  repo.commit({ [rel]: `# deploy settings\nGITHUB_TOKEN=${fakeGithubToken()}\n${fakeAwsKeyLine()}\n` }, "add deploy settings");
  return rel;
}

/** A directory with files but no `.git`. */
export function makeNonRepoDir(): string {
  const p = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-norepo-"));
  fs.writeFileSync(path.join(p, "README.md"), "not a repository\n");
  return p;
}

/** A small project tree: a few folders, a binary-ish file, an executable script. */
export function defaultFiles(): FileMap {
  return {
    "README.md": "# th_timmy\nsample project\n",
    "src/app.py": "print('hello from th_timmy')\n",
    "src/lib/util.py": "def add(a, b):\n    return a + b\n",
    "scripts/run.sh": "#!/bin/sh\necho run\n",
    "data/blob.bin": Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256)),
    ".gitignore": "__pycache__/\n.env\n",
  };
}
