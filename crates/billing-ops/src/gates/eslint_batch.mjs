// Runs the project's own ESLint once over many texts with --fix semantics, so a project whose
// config is slow to load (typed linting) pays for it once, not once per file.
// argv: the directory ESLint runs in (config resolution). stdin: {"files": [{"path", "text"}],
// "internal": [specifier]} with paths relative to it. stdout: [{"output", "rules"} | {"error"}]
// in the files' order; `rules` names the rules still reporting a problem in the fixed text.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { existsSync } from 'node:fs'
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
// loadESLint's class says which config system it reads; ESLint before 8.57 is legacy only.
const flat = ESLint.configType === 'flat'
// Settings added for every file (below), kept when the untyped instance is made.
let settingsOverride = null
const make = (extra) => {
  const override = { ...(extra || {}) }
  if (settingsOverride) override.settings = settingsOverride
  return Object.keys(override).length > 0 ? new ESLint({ cwd, fix: true, overrideConfig: override }) : new ESLint({ cwd, fix: true })
}
let eslint = make()
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
  settingsOverride = override
  eslint = make()
}

// Typed linting (`parserOptions.project`, `projectService`) parses only files in the
// TypeScript program, and a file the tool generates is not on disk while it plans: the parser
// answers a fatal error and no rule runs (elysia-paseto, create-t3-turbo). Such a file is
// linted once more without type information, with the rules that need it turned off, so the
// other rules' fixes and the waivers still reach it; the typed rules are the checks' business.
const typedParseError = (messages) =>
  messages.some((m) => m.fatal && /parserOptions\.project|projectService|project service|does not include this file|TSConfig/i.test(m.message || ''))
const ruleMeta = (config, id) => {
  const at = id.lastIndexOf('/')
  if (at < 0) return null
  const prefix = id.slice(0, at)
  const name = id.slice(at + 1)
  const plugins = config.plugins
  const loaded = plugins && !Array.isArray(plugins) && typeof plugins[prefix] === 'object' ? plugins[prefix] : null
  let plugin = loaded
  if (!plugin) {
    const pkg = prefix.startsWith('@') ? `${prefix}/eslint-plugin` : `eslint-plugin-${prefix}`
    try {
      plugin = require(pkg)
    } catch {
      return null
    }
  }
  const rules = (plugin && (plugin.rules || (plugin.default && plugin.default.rules))) || {}
  return rules[name] && rules[name].meta ? rules[name].meta : null
}
const untypedFor = new Map()
const untyped = async (filePath) => {
  const config = await eslint.calculateConfigForFile(filePath)
  const off = {}
  for (const [id, entry] of Object.entries((config && config.rules) || {})) {
    const meta = ruleMeta(config, id)
    const severity = Array.isArray(entry) ? entry[0] : entry
    if (severity !== 'off' && severity !== 0 && meta && meta.docs && meta.docs.requiresTypeChecking) off[id] = 'off'
  }
  const key = JSON.stringify(off)
  if (!untypedFor.has(key)) {
    const parserOptions = { project: null, projectService: false, programs: null }
    untypedFor.set(key, make(flat ? { languageOptions: { parserOptions }, rules: off } : { parserOptions, rules: off }))
  }
  return untypedFor.get(key)
}

// The typed parser's attempt on a file that is not on disk costs seconds (4 to 11 s each in
// create-t3-turbo, whose plan then took minutes) and fails the same way for every such file:
// after the first failure, the others go straight to the untyped pass.
let typedFailsOffDisk = false
const out = []
for (const file of files) {
  try {
    const filePath = path.resolve(cwd, file.path)
    const offDisk = !existsSync(filePath)
    let result = null
    if (!(offDisk && typedFailsOffDisk)) {
      ;[result] = await eslint.lintText(file.text, { filePath })
    }
    if (!result || typedParseError(result.messages || [])) {
      if (result && offDisk) typedFailsOffDisk = true
      ;[result] = await (await untyped(filePath)).lintText(file.text, { filePath })
    }
    const rules = [...new Set(((result && result.messages) || []).map((m) => m.ruleId).filter(Boolean))]
    out.push({ output: result && typeof result.output === 'string' ? result.output : file.text, rules })
  } catch (err) {
    out.push({ error: String((err && err.message) || err).split('\n')[0] })
  }
}
process.stdout.write(JSON.stringify(out))
