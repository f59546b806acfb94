// Play a Yarn Spinner script with yarn-bound (a Yarn implementation for JavaScript): at each set of
// options take the first not taken before (else the last), until the dialogue ends or a step
// budget runs out. Prints {"lines", "steps", "ended"} as JSON. Usage: node play_yarn.js FILE START
"use strict";
const fs = require("fs");
const YarnBound = require("yarn-bound");

const runner = new YarnBound({ dialogue: fs.readFileSync(process.argv[2], "utf8"), startAt: process.argv[3] });
const lines = [];
const taken = new Set();
let steps = 0;
let ended = false;
while (runner.currentResult && steps < 200) {
  const result = runner.currentResult;
  if (result.isDialogueEnd) { ended = true; break; }
  if (result instanceof YarnBound.OptionsResult) {
    const key = result.options.map((o) => o.text).join("|");
    let pick = result.options.findIndex((_, i) => !taken.has(key + "#" + i));
    if (pick < 0) pick = result.options.length - 1;
    taken.add(key + "#" + pick);
    runner.advance(pick);
  } else {
    if (result instanceof YarnBound.TextResult) lines.push(result.text);
    runner.advance();
  }
  steps += 1;
}
process.stdout.write(JSON.stringify({ lines, steps, ended: ended || !runner.currentResult }));
