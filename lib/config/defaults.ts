/**
 * The defaults and limits of the settings that the YAML config and the resource inputs share: one
 * place, read by config/validate.ts and providers/inputs.ts.
 */

/** A VM id: `vm01`, `web-2` (letters, digits, `_`, `-`; it names a Pulumi resource and a config key). */
export const VM_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Default and allowed range of each numeric setting. */
export const NUMBERS = {
  sshPort: { default: 22, min: 1, max: 65535 },
  connectTimeoutS: { default: 10, min: 1, max: 600 },
  lockTimeoutS: { default: 30, min: 0, max: 3600 },
  ioTimeoutS: { default: 60, min: 5, max: 3600 },
} as const;

/** rsync --bwlimit in KiB/s, rsync's unit (1 KiB/s up to about 10 GiB/s); no default: no limit. */
export const BWLIMIT_KBPS = { min: 1, max: 10_000_000 } as const;

/** Why `n` is not a valid bandwidth limit, or undefined (pure). */
export function bwlimitProblem(n: number): string | undefined {
  return Number.isInteger(n) && n >= BWLIMIT_KBPS.min && n <= BWLIMIT_KBPS.max ? undefined : `${n} is not a whole number of KiB/s from ${BWLIMIT_KBPS.min} to ${BWLIMIT_KBPS.max}`;
}

/** The branch pushed when none is named. */
export const DEFAULT_BRANCH = "main";

/** Why `n` is not a valid value of the numeric setting `name`, or undefined (pure). */
export function numberProblem(name: keyof typeof NUMBERS, n: number): string | undefined {
  const { min, max } = NUMBERS[name];
  return Number.isInteger(n) && n >= min && n <= max ? undefined : `${n} is not a whole number from ${min} to ${max}`;
}
