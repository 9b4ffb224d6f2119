/**
 * Messages of the dynamic provider, shown on the resource they are about.
 *
 * The SDK's dynamic provider has no engine connection and hides the resource's URN from the provider
 * (`pulumi.log` there is console output, pulumi/pulumi#6065), so everything it prints lands under the
 * stack, where two RepoSyncs' `vm01` lines cannot be told apart. A native provider logs through the
 * engine's `Log` call with the resource's URN; the engine hands every provider plugin its address as
 * the first argument. So: the program passes each target its own URN (`logUrn`, computed like the
 * engine does), and this module sends the target's messages with it. Without an engine address or a
 * URN (a state written before `logUrn` existed), or when a call fails, a message goes to stderr as
 * before, prefixed with the VM.
 */
import { createRequire } from "node:module";
import type * as grpcTypes from "@grpc/grpc-js";
import type { EngineClient } from "@pulumi/pulumi/proto/engine_grpc_pb";
import type * as engineProto from "@pulumi/pulumi/proto/engine_pb";
import type { Logger } from "../lib/log";

/** A logger for one resource whose messages can be waited for (before the provider call returns). */
export interface ResourceLogger extends Logger {
  /** Resolves when every message sent so far was delivered (or written to stderr). */
  flush(): Promise<void>;
}

/**
 * The engine address a provider plugin is started with (`host:port`): its first argument that is not
 * a flag (the engine may add `--logtostderr`, `-v=9`, `--tracing <endpoint>`).
 */
export function engineAddress(argv: readonly string[] = process.argv.slice(2)): string | undefined {
  for (let n = 0; n < argv.length; n++) {
    if (argv[n] === "--tracing") n++;
    else if (!argv[n].startsWith("-")) return /^[\w.-]+:\d+$/.test(argv[n]) ? argv[n] : undefined;
  }
  return undefined;
}

interface Engine {
  client: EngineClient;
  proto: typeof engineProto;
  grpc: typeof grpcTypes;
}

/** How long one message may take to reach the engine before it goes to stderr instead. */
const LOG_DEADLINE_MS = 10_000;

let engine: Engine | null | undefined;

/** The engine client, made once per process (null when there is no engine to talk to). */
function engineClient(): Engine | null {
  if (engine !== undefined) return engine;
  const address = engineAddress();
  engine = null;
  if (!address) return engine;
  try {
    // The SDK's generated client and the grpc copy it was built with (another copy's credentials would not match).
    const sdk = createRequire(require.resolve("@pulumi/pulumi/proto/engine_grpc_pb"));
    const grpc = sdk("@grpc/grpc-js") as typeof grpcTypes;
    const { EngineClient: Client } = sdk("./engine_grpc_pb") as { EngineClient: typeof EngineClient };
    engine = { client: new Client(address, grpc.credentials.createInsecure()), proto: sdk("./engine_pb") as typeof engineProto, grpc };
  } catch {
    engine = null;
  }
  return engine;
}

/** Chains every message: the engine shows them in the order they were sent. */
let last: Promise<void> = Promise.resolve();

/**
 * Messages about the resource `urn` (VM `vm`): info and warnings on the resource through the engine,
 * alerts (machine-readable JSON) on stderr as everywhere else.
 */
export function resourceLogger(vm: string, urn: string | undefined): ResourceLogger {
  const toStderr = (level: "info" | "warn", m: string) => process.stderr.write(`repo-sync: ${level === "warn" ? "warning: " : ""}${vm}: ${m}\n`);
  const send = (level: "info" | "warn", m: string) => {
    const e = urn ? engineClient() : null;
    if (!e || !urn) {
      toStderr(level, m);
      return;
    }
    const req = new e.proto.LogRequest();
    req.setSeverity(level === "warn" ? e.proto.LogSeverity.WARNING : e.proto.LogSeverity.INFO);
    req.setMessage(m);
    req.setUrn(urn);
    last = last.then(() => new Promise<void>((resolve) => {
      e.client.log(req, new e.grpc.Metadata(), { deadline: Date.now() + LOG_DEADLINE_MS }, (err) => {
        if (err) toStderr(level, m);
        resolve();
      });
    }));
  };
  return {
    info: (m) => send("info", m),
    warn: (m) => send("warn", m),
    alert: (a) => void process.stderr.write(`${JSON.stringify({ level: "alert", vm, ...a })}\n`),
    flush: () => last,
  };
}
