#!/usr/bin/env node
// A native-solc-compatible front for solc-js, for py-solc-x.
// It answers the two calls py-solc-x makes: `--version` and `--standard-json` (input on stdin, output on
// stdout). The stock `solcjs` CLI prints a stray line before its JSON, which py-solc-x cannot parse.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

// Imports that are not inlined in the input resolve against the working directory, then this package's
// node_modules (so `@openzeppelin/contracts/...` is found wherever the caller runs from).
function findImport(importPath) {
  const roots = [process.cwd(), path.join(__dirname, "node_modules")];
  for (const root of roots) {
    const candidate = path.resolve(root, importPath);
    if (candidate.startsWith(path.resolve(root)) && fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath}` };
}

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes("--standard-json")) {
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImport }));
} else {
  process.stderr.write("usage: solc-standard-json.js --version | --standard-json < input.json\n");
  process.exit(2);
}
