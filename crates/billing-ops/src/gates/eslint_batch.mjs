// Runs the project's own ESLint once over many texts with --fix semantics, so a project whose
// config is slow to load (typed linting) pays for it once, not once per file.
// argv: the directory ESLint runs in (config resolution). stdin: [{"path", "text"}] with
// paths relative to it. stdout: [{"output", "rules"} | {"error"}] in the same order; `rules`
// names the rules still reporting a problem in the fixed text.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import path from 'node:path'

// With `node -e`, the argument after `--` is argv[1].
const cwd = process.argv[process.argv.length - 1]
const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const files = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const require = createRequire(path.join(cwd, 'package.json'))
const api = await import(pathToFileURL(require.resolve('eslint')).href)
const mod = api.default && !api.ESLint ? api.default : api
// loadESLint (8.57+) picks flat or legacy config as the CLI does; older versions are legacy.
const ESLint = mod.loadESLint ? await mod.loadESLint({ cwd }) : mod.ESLint
const eslint = new ESLint({ cwd, fix: true })

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
