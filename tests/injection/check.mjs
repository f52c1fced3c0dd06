// Parses generated JS/TS with the TypeScript compiler and finds injected `pwned` identifiers.
// Usage: node check.mjs <node_modules dir holding typescript> <file>...
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [modules, ...files] = process.argv.slice(2);
const ts = createRequire(path.join(modules, "noop.js"))("typescript");
let problems = 0;
for (const file of files) {
  const kind = file.endsWith(".tsx")
    ? ts.ScriptKind.TSX
    : /\.[mc]?ts$/.test(file)
      ? ts.ScriptKind.TS
      : ts.ScriptKind.JS;
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true, kind);
  for (const d of source.parseDiagnostics) {
    problems++;
    console.log(`PARSE ${file}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
  }
  const visit = (node) => {
    if (ts.isIdentifier(node) && node.text === "pwned") {
      problems++;
      const { line } = source.getLineAndCharacterOfPosition(node.getStart());
      console.log(`INJECTED ${file}: line ${line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
process.exit(problems ? 1 : 0);
