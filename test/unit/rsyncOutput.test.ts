import * as assert from "node:assert/strict";
import { describeChanges, describeProgress, lastProgress, parseItemizedChanges, parseProgress, parseRsyncStats } from "../../lib/transfer/rsyncOutput";
import { progressLine } from "../../cli/progress";

// Captured from rsync 3.5.0 (local dry run, and a push over ssh where the update flag is `<`).
const LOCAL_DRY_RUN = `*deleting   gone/g.txt
*deleting   gone/
*deleting   old.txt
>f..t...... a.txt
>f+++++++++ big.bin
cL+++++++++ link -> a.txt
>f+++++++++ sub/b.txt

Number of files: 6 (reg: 3, dir: 2, link: 1)
Number of created files: 3 (reg: 2, link: 1)
Number of deleted files: 3 (reg: 2, dir: 1)
Number of regular files transferred: 3
Total file size: 5,010 bytes
Total transferred file size: 5,005 bytes
Literal data: 0 bytes
Matched data: 0 bytes
File list size: 0
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 177
Total bytes received: 66

sent 177 bytes  received 66 bytes  486.00 bytes/sec
total size is 5,010  speedup is 20.62 (DRY RUN)
`;

const REMOTE_PUSH = `cd+++++++++ src/
<f+++++++++ src/app.py
<f.st...... README.md
.d..t...... data/
<f..t...... data/blob.bin
cL+++++++++ current -> src
*deleting   stale.txt

Number of files: 7 (reg: 5, dir: 3)
Number of regular files transferred: 3
Total transferred file size: 1,234,567 bytes
Literal data: 34,567 bytes
Matched data: 1,200,000 bytes
Total bytes sent: 40,123
Total bytes received: 1,021
`;

describe("rsync output parsers", () => {
  const cases: Array<{ name: string; out: string; added: string[]; modified: string[]; deleted: string[] }> = [
    { name: "local dry run", out: LOCAL_DRY_RUN, added: ["big.bin", "link", "sub/b.txt"], modified: ["a.txt"], deleted: ["gone/g.txt", "gone/", "old.txt"] },
    { name: "push over ssh", out: REMOTE_PUSH, added: ["src/", "src/app.py", "current"], modified: ["README.md", "data/blob.bin"], deleted: ["stale.txt"] },
    { name: "no changes", out: "\nNumber of files: 7\nTotal bytes sent: 378\n", added: [], modified: [], deleted: [] },
    { name: "attribute-only change counts as modified", out: ".f...p..... scripts/run.sh\n", added: [], modified: ["scripts/run.sh"], deleted: [] },
    { name: "directories count, their times do not", out: ".d..t...... ./\ncd+++++++++ empty/\n*deleting   olddir/\n.d...p..... conf/\n", added: ["empty/"], modified: ["conf/"], deleted: ["olddir/"] },
    { name: "names with spaces", out: "<f+++++++++ my file.txt\n*deleting   old name.txt\n", added: ["my file.txt"], modified: [], deleted: ["old name.txt"] },
    // Captured from rsync 3.5.0 in the C locale: bytes it cannot print come as \#ooo, a backslash before # too.
    { name: "escaped names", out: ">f+++++++++ src/caf\\#303\\#251-r\\#303\\#251sum\\#303\\#251.md\n>f+++++++++ back\\#134#123.txt\n>f.st...... r\\#377w\n*deleting   \\#303\\#274.txt\n", added: ["src/café-résumé.md", "back\\#123.txt"], modified: ["r\ufffdw"], deleted: ["ü.txt"] },
  ];
  for (const c of cases) {
    it(`itemized changes: ${c.name}`, () => {
      const got = parseItemizedChanges(c.out);
      assert.deepEqual(got, { added: c.added, modified: c.modified, deleted: c.deleted });
    });
  }

  it("reads --stats figures with thousands separators", () => {
    assert.deepEqual(parseRsyncStats(REMOTE_PUSH), {
      filesTotal: 7, filesTransferred: 3, transferredFileSize: 1_234_567, literalData: 34_567, matchedData: 1_200_000, bytesSent: 40_123, bytesReceived: 1_021,
    });
    assert.equal(parseRsyncStats(LOCAL_DRY_RUN).bytesSent, 177);
    assert.equal(parseRsyncStats("").filesTransferred, 0);
  });

  it("describes changes with the first paths", () => {
    assert.equal(describeChanges(parseItemizedChanges(REMOTE_PUSH)), "2 modified, 3 added, 1 deleted (first: README.md, data/blob.bin, src/)");
  });
});

describe("rsync --info=progress2 (captured from rsync 3.5.0)", () => {
  // -i --info=progress2 --stats of three 3 MB files: records are \r-separated inside the \n lines.
  const captured =
    ">f+++++++++ f1\n\r         32,768   0%    0.00kB/s    0:00:00  \r      3,000,000  33%   25.73MB/s    0:00:00 (xfr#1, to-chk=2/4)\n" +
    ">f+++++++++ f2\n\r      6,000,000  66%   25.41MB/s    0:00:00 (xfr#2, to-chk=1/4)\n" +
    ">f+++++++++ f3\n\r      9,000,000 100%   24.86MB/s    0:00:00 (xfr#3, to-chk=0/4)\r      9,000,000 100%   24.79MB/s    0:00:00 (xfr#3, to-chk=0/4)\n\n" +
    "Number of files: 4 (reg: 3, dir: 1)\nNumber of regular files transferred: 3\nTotal transferred file size: 9,000,000 bytes\n";
  const records: Array<[string, ReturnType<typeof parseProgress>]> = [
    ["         32,768   0%    0.00kB/s    0:00:00  ", { bytes: 32768, percent: 0, rate: "0.00kB/s", eta: "0:00:00" }],
    ["      3,000,000  33%   25.73MB/s    0:00:00 (xfr#1, to-chk=2/4)", { bytes: 3000000, percent: 33, rate: "25.73MB/s", eta: "0:00:00", files: 1, left: 2, total: 4 }],
    ["    120,586,240  57%   11.42MB/s    0:00:08 (xfr#1,204, ir-chk=1,000/2,345)", { bytes: 120586240, percent: 57, rate: "11.42MB/s", eta: "0:00:08", files: 1204, left: 1000, total: 2345 }],
    ["    120,586,240  57%   11.42MB/s    0:00:08 (xfr#1204, ir-chk=1000/2345)", { bytes: 120586240, percent: 57, rate: "11.42MB/s", eta: "0:00:08", files: 1204, left: 1000, total: 2345 }],
    [">f+++++++++ f1", undefined],
    ["Number of files: 4 (reg: 3, dir: 1)", undefined],
  ];
  for (const [text, want] of records) it(`record ${JSON.stringify(text.trim())}`, () => assert.deepEqual(parseProgress(text), want));

  it("the itemized changes and the stats read the same with progress records in between", () => {
    assert.deepEqual(parseItemizedChanges(captured), { added: ["f1", "f2", "f3"], modified: [], deleted: [] });
    assert.equal(parseRsyncStats(captured).filesTransferred, 3);
  });

  it("the last record of a chunk; how it is said; a line cut to the terminal", () => {
    const last = lastProgress(captured);
    assert.equal(last?.percent, 100);
    assert.equal(describeProgress(last!), "100% 24.79MB/s ETA 0:00:00 (3 files, 4/4 checked)");
    const all = new Map([["vm01", last!], ["vm02", parseProgress("      3,000,000  33%   25.73MB/s    0:00:04 (xfr#1, to-chk=2/4)")!]]);
    assert.equal(progressLine(all, 200), "vm01 100% 24.79MB/s ETA 0:00:00 (3 files, 4/4 checked) | vm02 33% 25.73MB/s ETA 0:00:04 (1 files, 2/4 checked)");
    assert.equal(progressLine(all, 20), "vm01 100% 24.79MB/…");
  });
});
