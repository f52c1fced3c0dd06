// Runs the project's own ESLint once over many texts with --fix semantics, so a project whose
// config is slow to load (typed linting) pays for it once, not once per file.
// argv: the directory ESLint runs in (config resolution). stdin: {"files": [{"path", "text"}],
// "internal": [specifier]} with paths relative to it. stdout: [{"output", "rules"} | {"error"}]
// in the files' order; `rules` names the rules still reporting a problem in the fixed text.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import path from 'node:path'

// With `node -e`, the argument after `--` is argv[1].
const cwd = process.argv[process.argv.length - 1]
const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const files = request.files
const internal = request.internal || []

const require = createRequire(path.join(cwd, 'package.json'))
const api = await import(pathToFileURL(require.resolve('eslint')).href)
const mod = api.default && !api.ESLint ? api.default : api
// loadESLint (8.57+) picks flat or legacy config as the CLI does; older versions are legacy.
const ESLint = mod.loadESLint ? await mod.loadESLint({ cwd }) : mod.ESLint
let eslint = new ESLint({ cwd, fix: true })
if (internal.length > 0 && files.length > 0) {
  // The modules the tool generates are not on disk while it plans, so eslint-plugin-import's
  // resolver cannot tell that an alias import of one (`@/lib/spaire/usage`) is the project's
  // own: `import/order` would call it "unknown" and leave it where the wiring put it. Its
  // `internal-regex` setting (also eslint-plugin-import-x's) says so without resolving; the
  // project's own regex, if any, still applies.
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  const ours = `^(?:${internal.map(escape).join('|')})$`
  let settings = {}
  try {
    const config = await eslint.calculateConfigForFile(path.resolve(cwd, files[0].path))
    settings = (config && config.settings) || {}
  } catch {}
  const override = {}
  for (const key of ['import/internal-regex', 'import-x/internal-regex']) {
    override[key] = typeof settings[key] === 'string' && settings[key] !== '' ? `(?:${settings[key]})|${ours}` : ours
  }
  eslint = new ESLint({ cwd, fix: true, overrideConfig: { settings: override } })
}

const out = []
for (const file of files) {
  try {
    const [result] = await eslint.lintText(file.text, { filePath: path.resolve(cwd, file.path) })
    const rules = [...new Set(((result && result.messages) || []).map((m) => m.ruleId).filter(Boolean))]
    out.push({ output: result && typeof result.output === 'string' ? result.output : file.text, rules })
  } catch (err) {
    out.push({ error: String((err && err.message) || err).split('\n')[0] })
  }
}
process.stdout.write(JSON.stringify(out))
