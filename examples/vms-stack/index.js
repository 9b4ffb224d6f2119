// In real life this stack creates the VMs (cloud instances, libvirt domains...) and exports their
// addresses. Here the addresses come from its config, so that it runs anywhere:
//   pulumi config set --path 'vms.vm01.host' 10.0.0.11
// repo-sync then uses them with: pulumi config set repo-sync:vmsStack organization/vms/<stack>
const pulumi = require("@pulumi/pulumi");

const cfg = new pulumi.Config();
exports.vms = cfg.requireObject("vms");
