// remote.CopyToRemote of one folder to every VM, with the same key and pinned host keys as repo-sync.
// Config: targets (JSON list of { vm, host, port, user, path, hostKey }), keyPath, source (a folder).
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");

const cfg = new pulumi.Config();
const targets = JSON.parse(cfg.require("targets"));
const privateKey = pulumi.secret(fs.readFileSync(cfg.require("keyPath"), "utf8"));
const source = new pulumi.asset.FileArchive(cfg.require("source"));
for (const t of targets) {
  new command.remote.CopyToRemote(t.vm, {
    connection: { host: t.host, port: t.port, user: t.user, privateKey, hostKey: t.hostKey },
    source,
    remotePath: t.path,
  });
}
