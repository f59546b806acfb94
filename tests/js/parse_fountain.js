// Parse a Fountain file with fountain-js (a second, independent implementation: screenplain is
// the first) and print its scene headings and dialogue counts as JSON. Usage: node parse_fountain.js FILE
"use strict";
const fs = require("fs");
const { Fountain } = require("fountain-js");

const script = new Fountain().parse(fs.readFileSync(process.argv[2], "utf8"), true);
const count = (type) => script.tokens.filter((t) => t.type === type).length;
const characters = [...new Set(script.tokens.filter((t) => t.type === "character").map((t) => t.text.trim()))].sort();
process.stdout.write(JSON.stringify({
  title: script.title,
  scenes: count("scene_heading"),
  dialogue_blocks: count("character"),
  characters,
}));
