/** The benchmark's handle on kept SSH masters (lib/remote/sshMaster.ts): close this fleet's, to time a cold run. */
import { loadConfig } from "../lib/config/load";
import { withPinnedHostKey } from "../lib/remote/pinnedHostKey";
import { closeMaster, keptConnection } from "../lib/remote/sshMaster";

/** Ends the kept masters of every target of a config (only those: other runs' masters are theirs). */
export async function closeKeptMasters(cfgPath: string): Promise<number> {
  const targets = loadConfig(cfgPath).targets;
  const closed = await Promise.all(targets.map((t) => {
    const kept = keptConnection(withPinnedHostKey(t));
    return kept ? closeMaster(kept.controlPath) : Promise.resolve(false);
  }));
  return closed.filter(Boolean).length;
}
