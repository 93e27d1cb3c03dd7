#!/usr/bin/env node
// A `solc --standard-json` stand-in backed by solc-js (npm solc, pinned in package.json):
// reads Solidity standard JSON on stdin, writes the compiler's JSON output on stdout.
const solc = require('solc');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  process.stdout.write(solc.compile(input));
});
