/**
 * Shared paths of the releases layout. In place, `rsync_excludes` leaves the VM's own data (uploads,
 * `.env`) alone beside the tree; a new release starts empty, so that data would stay behind in the
 * release it was written to and go with it when pruned. Like Capistrano's `linked_dirs`/`linked_files`
 * (Deployer's `shared_dirs`/`shared_files`), each entry is instead one path from the top of the tree
 * whose data lives once in `<path>/shared/<entry>`, and every release holds a relative symlink to it,
 * made before `current` is switched to that release (deploy, rollback, migration). rsync never sends
 * nor deletes the link (an anchored exclude), pruning a release removes the link only, and a switch of
 * `current` changes the code, never the data.
 *
 * The data is never created by repo-sync: the first time a release holds a real entry at a shared path
 * (what the service wrote into the served release, or the in-place tree a migration moved), it is
 * moved to `shared/` and the link takes its place; until then a release has no link there. A real
 * entry found where `shared/` already has the data (a release from before the entry was shared) is
 * moved aside to `<path>/.repo-sync.displaced.XXXXXX/`, never deleted.
 *
 * Wildcard patterns (`*.log`) name no one path to link: refused in this layout when the config loads
 * (config/sharedPaths.ts).
 */
import { TEMP_PREFIX } from "../config/ownFiles";
import { sharedPaths } from "../config/sharedPaths";
import { shQuote } from "./quote";

/** The folder, beside `releases`, that holds the data of every shared path. */
export const SHARED_DIR = "shared";
/** Prefix of the folders a release's own copy of a shared path is moved to when `shared/` already has it. */
export const DISPLACED_PREFIX = ".repo-sync.displaced.";

/**
 * The rsync excludes for a transfer into a release (pure): each shared path anchored at the top of the
 * tree and without a trailing `/`, so that the link in its place (not a folder) is never deleted.
 */
export function releaseExcludes(entries: string[]): string[] {
  return sharedPaths(entries).map((rel) => `/${rel}`);
}

/** The link a release holds at `rel`: relative, from `releases/<commit>/<rel>` up to `shared/<rel>` (pure). */
export function sharedLinkTarget(rel: string): string {
  return `${"../".repeat(rel.split("/").length + 1)}${SHARED_DIR}/${rel}`;
}

/**
 * The shell functions the share and unshare steps use (session script). Variables are globals (POSIX
 * sh); every name is quoted, and no step follows a link: `walk` refuses one on the way, `mv -T`
 * renames a link itself, and the release's link is made under a `mktemp` name then renamed over.
 */
export const SHARE_FUNCTIONS = [
  // walk BASE REL MAKE: BASE and every folder down to REL's parent are real folders, never links;
  // missing ones are made (with the owner of what lands) when MAKE is 1, else status 2 (REL cannot
  // exist). Status 1: a link, or something that is not a folder, on the way.
  "walk() {",
  '  b=$1; r=$2',
  "  while :; do",
  '    if [ -L "$b" ]; then return 1; fi',
  '    if [ ! -d "$b" ]; then',
  '      if [ -e "$b" ]; then return 1; fi',
  '      [ "$3" = 1 ] || return 2',
  '      mkdir -- "$b" && owned "$b" || return 1',
  "    fi",
  '    case "$r" in */*) b="$b/${r%%/*}"; r=${r#*/} ;; *) return 0 ;; esac',
  "  done",
  "}",
  // owned DIR: a folder made here gets the owner and group rsync gives what lands (--chown).
  "owned() {",
  '  case "$OWN:$GRP" in -:-) ;; -:*) chown -- ":$GRP" "$1" ;; *:-) chown -- "$OWN" "$1" ;; ' +
    '*) chown -- "$OWN:$GRP" "$1" ;; esac',
  "}",
  // islink NAME TARGET: NAME is a symlink whose target is exactly TARGET (a newline in it is kept).
  'islink() { [ -L "$1" ] || return 1; L=$(readlink -- "$1"; echo x); L=${L%x}; [ "${L%?}" = "$2" ]; }',
  // share1 REL LINK: see the file comment of lib/target/shared.ts; $arg is the release's commit.
  "share1() {",
  '  E="releases/$arg/$1"; D="shared/$1"',
  '  walk "releases/$arg" "$1" 0; w=$?',
  '  [ $w -ne 1 ] || return 1',
  '  if [ $w -eq 0 ] && islink "$E" "$2"; then return 0; fi',
  '  if [ $w -eq 0 ] && { [ -e "$E" ] || [ -L "$E" ]; }; then',
  '    walk shared "$1" 1 || return 1',
  '    if [ ! -e "$D" ] && [ ! -L "$D" ]; then mv -T -- "$E" "$D" || return 1',
  `    else K=$(mktemp -d ${DISPLACED_PREFIX}XXXXXX) && ` +
    'walk "$K" "$1" 1 && mv -T -- "$E" "$K/$1" && echo "KEPT $K" || return 1; fi',
  "  fi",
  '  walk shared "$1" 0; w=$?',
  '  [ $w -ne 1 ] || return 1',
  '  [ $w -eq 0 ] && { [ -e "$D" ] || [ -L "$D" ]; } || return 0',
  '  walk "releases/$arg" "$1" 1 || return 1',
  `  T=$(mktemp -u "\${E%/*}/${TEMP_PREFIX}XXXXXX") && ln -s -- "$2" "$T" || return 1`,
  '  mv -fT -- "$T" "$E" || { rm -f -- "$T"; return 1; }',
  "}",
  // unshare1 REL LINK (back in place, in the target directory): where the release linked REL, the
  // data comes back from shared/REL; anything else there stays, and so does shared/REL then.
  "unshare1() {",
  '  walk . "$1" 0; w=$?',
  '  [ $w -ne 1 ] || return 1',
  '  if [ $w -eq 0 ] && islink "./$1" "$2"; then rm -f -- "./$1" || return 1; fi',
  '  if [ $w -eq 0 ] && { [ -e "./$1" ] || [ -L "./$1" ]; }; then return 0; fi',
  '  walk shared "$1" 0 || return 0',
  '  if [ -e "shared/$1" ] || [ -L "shared/$1" ]; then walk . "$1" 1 && mv -T -- "shared/$1" "./$1"; fi',
  "}",
].join("\n");

/** The calls that link (`share1`) or take back (`unshare1`) every shared path, joined by `&&` (pure). */
export function sharedCalls(fn: "share1" | "unshare1", shared: string[]): string {
  return shared.map((rel) => `${fn} ${shQuote(rel)} ${shQuote(sharedLinkTarget(rel))}`).join(" && ") || "true";
}

/**
 * The `share H` command as a session `case` arm: links every shared path into releases/H (a real
 * folder under a real `releases`), printing `KEPT <folder>` for what it moved aside.
 */
export function shareCommand(shared: string[]): string {
  return [
    "    share)",
    `      if [ -L releases ] || [ -L "releases/$arg" ] || [ ! -d "releases/$arg" ]; then echo "ERR share"`,
    `      else { ${sharedCalls("share1", shared)}; } 2>/dev/null && echo OK || echo "ERR share"; fi ;;`,
  ].join("\n");
}
