// Side by side: another build of repo-sync ("old", OLD_ROOT: a checkout of an earlier commit, built with
// npx tsc) and this one ("new"), one-line commits of the repository REPO (a git checkout; line.txt is
// appended to) to VMS loopback VMs, alternating which CLI goes first; bare rsync of the same export as
// the floor. Usage (after npx tsc, as root): OLD_ROOT=... REPO=... node bench/sideBySide.js ROUNDS VMS
const path0 = require("path");
const ROOT = path0.resolve(__dirname, "..");
const { startFleet } = require(`${ROOT}/dist/tools/fleet/fleet.js`);
const { writeFleetConfig } = require(`${ROOT}/dist/tools/fleet/fleetConfig.js`);
const { execFileSync, spawnSync } = require("child_process");
const fs = require("fs"), path = require("path");
const N = Number(process.argv[2] || 8), VMS = Number(process.argv[3] || 3);
(async () => {
  const fleet = await startFleet({ count: VMS, firstOctet: 251 });
  const repo = process.env.REPO;
  const roots = { old: process.env.OLD_ROOT, new: ROOT };
  if (!repo || !roots.old) throw new Error("set REPO (a git checkout) and OLD_ROOT (another built repo-sync)");
  const work = fs.mkdtempSync(path.join(require("os").tmpdir(), "repo-sync-sbs-"));
  const cfgs = {};
  for (const k of ["old", "new", "bare"]) {
    const paths = {};
    for (const vm of fleet.vms) paths[vm.id] = path.join(vm.root, "srv", k);
    cfgs[k] = writeFleetConfig(fleet, `${work}/${k}.yml`, { repoPath: repo, repository: { vm_repo_paths: paths, parallelism: VMS } });
    for (const vm of fleet.vms) { fs.mkdirSync(paths[vm.id], { recursive: true }); execFileSync("chown", ["-R", `${vm.user}:`, path.join(vm.root, "srv")]); }
  }
  const run = (k) => {
    const t = Date.now();
    const r = spawnSync(`${roots[k]}/bin/repo-sync`, ["sync", "--config", cfgs[k], "--no-pull"], { env: { ...process.env, REPO_SYNC_CACHE: `${work}/cache-${k}` }, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${k}: ${r.stderr}`);
    return Date.now() - t;
  };
  const bare = (tree) => {
    const t = Date.now();
    const ps = fleet.vms.map((vm) => require("child_process").spawn("rsync", ["-a", "--delete", "--omit-dir-times", "-e", `ssh -i ${fleet.clientKeyPath} -o UserKnownHostsFile=${fleet.knownHostsPath} -o StrictHostKeyChecking=yes -p ${vm.port}`, `${tree}/`, `${vm.user}@${vm.host}:${path.join(vm.root, "srv", "bare")}/`]));
    return Promise.all(ps.map((p) => new Promise((res, rej) => p.on("close", (c) => (c === 0 ? res() : rej(new Error("rsync " + c))))))).then(() => Date.now() - t);
  };
  run("old"); run("new"); // warm: initial syncs
  const times = { old: [], new: [], bare: [] };
  for (let i = 0; i < N; i++) {
    fs.appendFileSync(`${repo}/line.txt`, `loop ${i} ${Date.now()}\n`);
    execFileSync("git", ["-C", repo, "commit", "-qam", `loop ${i}`]);
    const order = i % 2 ? ["old", "new"] : ["new", "old"];
    for (const k of order) times[k].push(run(k));
    const head = execFileSync("git", ["-C", repo, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    times.bare.push(await bare(path.join(`${work}/cache-new/exports`, fs.readdirSync(`${work}/cache-new/exports`)[0], head)));
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(JSON.stringify({ vms: VMS, runs: N, old: med(times.old), new: med(times.new), bare: med(times.bare), ratio: (med(times.new) / med(times.old)).toFixed(3), all: times }));
  await fleet.stop();
  fs.rmSync(work, { recursive: true, force: true });
})().catch((e) => { console.error(e); process.exit(1); });
