// Usage: node own-errors.cjs <typescript module dir> <tsconfig>
// The project's own files checked, every diagnostic of theirs (syntax and types), and per library declaration
// file the count of its syntax errors, as JSON. `tsc` itself stops after syntax errors: once
// zod 4's TypeScript 5 declarations fail to parse under tsc 4.x, it reports no type error of
// any file, so it cannot tell whether the generated code would compile. This asks per file.
const ts = require(process.argv[2]);
const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); } };
const cfg = ts.getParsedCommandLineOfConfigFile(process.argv[3], {}, host);
const program = ts.createProgram({ rootNames: cfg.fileNames, options: cfg.options });
const out = { version: ts.version, files: [], own: [], libraries: {} };
const fmt = (d) => `${d.file ? d.file.fileName : ""}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) out.own.push(fmt(d));
for (const sf of program.getSourceFiles()) {
  const lib = sf.fileName.includes("/node_modules/");
  const diags = [...program.getSyntacticDiagnostics(sf), ...(lib ? [] : program.getSemanticDiagnostics(sf))];
  if (lib) { if (diags.length) out.libraries[sf.fileName.replace(/.*\/node_modules\//, "")] = diags.length; }
  else {
    out.files.push(ts.sys.resolvePath(sf.fileName));
    out.own.push(...diags.map(fmt));
  }
}
console.log(JSON.stringify(out, null, 1));
