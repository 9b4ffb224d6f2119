/**
 * A repo-sync error of the program side (settings, the source's commit and secret gate, a hook's host
 * key) as the engine shows it best: a `pulumi.ResourceError` on the resource it is about, its message
 * with the fix line, no stack and no object dump.
 *
 * The component feeds one promise (the prepared source) into every target's inputs and the stack's
 * outputs. When it rejects, the SDK prefixes `error serializing property "<key>": ` onto the same
 * error object once per property it was serializing, and reports that object once (by identity) as an
 * unhandled error: with its stack and an inspect() dump unless it is a ResourceError with `hideStack`.
 * So the error is a hideStack ResourceError whose message cannot be rewritten.
 */
import * as pulumi from "@pulumi/pulumi";
import { isRepoSyncError } from "../lib/errors";

/** A ResourceError whose message stays the one it was made with. */
class FixedMessageResourceError extends pulumi.ResourceError {
  constructor(message: string, resource: pulumi.Resource | undefined) {
    super(message, resource, true);
    this.name = "RepoSyncError";
    // The SDK's prefixing assigns to `message`: the assignment is ignored (a throwing setter would
    // turn this error into a TypeError with a stack).
    Object.defineProperty(this, "message", { get: () => message, set: () => undefined, enumerable: false, configurable: true });
    this.stack = message;
  }
}

/**
 * The error to throw (or reject with) for `err` on `resource`: a RepoSyncError becomes a clean
 * ResourceError; anything else (a bug) is returned as it is, stack included.
 */
export function resourceError(err: unknown, resource: pulumi.Resource | undefined): unknown {
  return isRepoSyncError(err) ? new FixedMessageResourceError(err.message, resource) : err;
}

/**
 * An output of a target, unset when the target failed. With `pulumi up --continue-on-error` the SDK
 * rejects every output of a failed resource; one that is not observed, or an output built on it (the
 * stack's, the component's), would fail the program a second time, with a stack trace ("resource vm02
 * failed to register"), for an error already shown on the target. (SDKs before `pulumi.recover` do
 * not reject them.)
 */
export function unlessFailed<T>(o: pulumi.Output<T>): pulumi.Output<T | undefined> {
  return whenFailed<T | undefined>(o, () => undefined);
}

/**
 * `o`, or when its resource failed, what `onFailure` gives (or throws). An error of ours (a source
 * refused: the target was never registered) is passed on as it is: it is reported once, by identity.
 */
export function whenFailed<T>(o: pulumi.Output<T>, onFailure: () => pulumi.Input<T>): pulumi.Output<T> {
  const recover = (pulumi as { recover?: typeof pulumi.recover }).recover;
  if (!recover) return o;
  return recover<T>(o, (err: unknown) => {
    if (err instanceof FixedMessageResourceError) throw err;
    return onFailure();
  });
}

/** Observes every output of `r` (see {@link unlessFailed}): its failure is left to the engine's report. */
export function observeFailure(r: pulumi.Resource): void {
  for (const v of Object.values(r)) if (pulumi.Output.isInstance(v)) unlessFailed(v);
}
