// N dynamic resources whose provider does nothing: what any Pulumi stack of that size costs.
const pulumi = require("@pulumi/pulumi");

const provider = {
  async create(inputs) {
    return { id: inputs.vm, outs: inputs };
  },
  async diff() {
    return { changes: false };
  },
};

class Floor extends pulumi.dynamic.Resource {
  constructor(name, args) {
    super(provider, name, args);
  }
}

const count = new pulumi.Config().requireNumber("count");
for (let i = 1; i <= count; i++) new Floor(`vm${String(i).padStart(2, "0")}`, { vm: `vm${i}` });
