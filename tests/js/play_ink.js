// Compile an Ink story with inkjs (the runtime games ship) and play it: at each choice take the
// first one not taken before (else the last), so loops are walked once and every branch is tried,
// until the story ends or a step budget runs out.
// Prints {"errors", "warnings", "ended", "steps", "text"} as JSON. Usage: node play_ink.js FILE.ink
"use strict";
const fs = require("fs");
const { Compiler } = require("inkjs/compiler/Compiler");

const source = fs.readFileSync(process.argv[2], "utf8");
const errors = [];
const warnings = [];
let story;
try {
  const compiler = new Compiler(source, {
    errorHandler: (message, type) => (type === 2 ? errors : warnings).push(message),
  });
  story = compiler.Compile();
} catch (err) {
  errors.push(String(err.message || err));
}
let text = "";
let steps = 0;
const taken = new Set();
if (story) {
  story.onError = (message) => errors.push(message);
  while (steps < 200) {
    while (story.canContinue) text += story.Continue();
    if (story.currentChoices.length === 0) break;
    const choices = story.currentChoices;
    let pick = choices.findIndex((c) => !taken.has(c.sourcePath + "|" + c.text));
    if (pick < 0) pick = choices.length - 1;
    taken.add(choices[pick].sourcePath + "|" + choices[pick].text);
    story.ChooseChoiceIndex(pick);
    steps += 1;
  }
}
const ended = Boolean(story) && !story.canContinue && story.currentChoices.length === 0;
process.stdout.write(JSON.stringify({ errors, warnings, ended, steps, text }));
