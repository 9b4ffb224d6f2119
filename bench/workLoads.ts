/** The benchmark's work loads: real trees nobody here wrote, and a synthetic one, committed to repos. */
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSourceRepo, SourceRepo } from "../tools/fleet/sourceRepo";

/** A repo holding a copy of `src` (a real tree), committed. */
export function repoFromTree(src: string): SourceRepo {
  const repo = makeSourceRepo({ "README.md": "benchmark tree\n" });
  fs.cpSync(src, path.join(repo.path, "tree"), { recursive: true, dereference: true });
  repo.git("add", "-A");
  repo.git("commit", "-q", "-m", "tree");
  return repo;
}

/** A repo with `n` small files in folders of 500. */
export function repoWithSmallFiles(n: number): SourceRepo {
  const repo = makeSourceRepo({ "README.md": "small files\n" });
  for (let i = 0; i < n; i++) {
    const dir = path.join(repo.path, "small", `d${Math.floor(i / 500)}`);
    if (i % 500 === 0) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `f${i}.txt`), `file ${i}\n`.repeat(1 + (i % 7)));
  }
  repo.git("add", "-A");
  repo.git("commit", "-q", "-m", "small files");
  return repo;
}
