/** Reads a process's state and parent from /proc (Linux). */
import * as fs from "node:fs";

/** State letter (R, S, Z...) and parent PID of `pid`, or undefined when it is gone. */
export function readProcStat(pid: number | string): { state: string; ppid: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}
