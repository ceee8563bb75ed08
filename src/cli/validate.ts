// `scalebot validate <file-or-dir>...`: checks catalogs and runbooks the way the bot loads them, and
// prints every problem as `file:line: path: message`. Nothing here talks to Slack or a cluster.
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { catalogProblems, catalogSchema, type Catalog } from '../config/catalog.ts';
import { BUILTIN_WORKFLOWS } from '../config/paths.ts';
import { formatProblem, lineOfPath, parseYamlFile, type Problem } from '../config/problems.ts';
import { runbookFiles } from '../config/runbooks.ts';
import { runbookSchema, type Runbook } from '../workflows/runbook-schema.ts';

export interface ValidationResult {
  /** Every file checked, as shown in problems (the paths given, plus the runbooks a catalog loads). */
  checked: string[];
  problems: Problem[];
}

const NEITHER = 'neither a catalog (has `services`) nor a runbook (has `phases`)';
const YAML_FILE = /\.ya?ml$/i;
/** Folders a walk never enters: dependencies and dot-folders (.git, ...). */
const SKIPPED_DIRS = new Set(['node_modules']);

/** What a file holds, from its top-level keys. */
const kindSchema = z.unknown().transform((data, ctx): 'catalog' | 'runbook' => {
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    if (Object.hasOwn(data, 'services')) return 'catalog';
    if (Object.hasOwn(data, 'phases')) return 'runbook';
  }
  ctx.addIssue({ code: 'custom', message: data === null || data === undefined ? `the file is empty: ${NEITHER}` : NEITHER });
  return z.NEVER;
});

interface RunbookResult {
  file: string;
  /** The runbook's name when it is valid. */
  name?: string;
  runbook?: Runbook;
}

/** Validates every catalog and runbook under the given paths; never throws on bad input. */
export function validatePaths(paths: string[]): ValidationResult {
  const problems: Problem[] = [];
  const checked: string[] = [];
  /** Display name of each file by its resolved path; the first spelling seen wins. */
  const shown = new Map<string, string>();
  const runbooks = new Map<string, RunbookResult>();
  const catalogs: { file: string; catalog: Catalog }[] = [];
  /** The workflows/ folder beside each catalog given (resolved), valid or not. */
  const besideCatalogs = new Set<string>();

  const checkRunbook = (file: string): RunbookResult => {
    const key = resolve(file);
    const known = runbooks.get(key);
    if (known) return known;
    const parsed = parseYamlFile(file, runbookSchema);
    const result: RunbookResult = parsed.ok ? { file, name: parsed.value.name, runbook: parsed.value } : { file };
    if (!parsed.ok) problems.push(...parsed.problems);
    runbooks.set(key, result);
    shown.set(key, file);
    checked.push(file);
    return result;
  };

  // 1. The paths given: each file is a catalog or a runbook.
  for (const file of expand(paths, problems)) {
    const key = resolve(file);
    if (shown.has(key)) continue;
    const kind = parseYamlFile(file, kindSchema);
    if (!kind.ok) {
      shown.set(key, file);
      checked.push(file);
      problems.push(...kind.problems);
    } else if (kind.value === 'runbook') {
      checkRunbook(file);
    } else {
      shown.set(key, file);
      checked.push(file);
      besideCatalogs.add(join(dirname(key), 'workflows'));
      const parsed = parseYamlFile(file, catalogSchema);
      if (parsed.ok) catalogs.push({ file, catalog: parsed.value });
      else problems.push(...parsed.problems);
    }
  }
  // A runbook in the workflows/ folder beside a catalog is that catalog's, as the bot loads it: a walk
  // over several catalog folders (examples/) checks each catalog against its own folder only, and two
  // folders may use the same name.
  const given = [...runbooks.values()].filter((r) => !besideCatalogs.has(dirname(resolve(r.file))));
  problems.push(...duplicateNames(given));

  // 2. Each catalog against the runbooks it can name: the built-in ones, a workflows/ folder beside
  //    it (both as the bot loads them, so their problems are the bot's too) and the others given above.
  for (const { file, catalog } of catalogs) {
    const loaded = [BUILTIN_WORKFLOWS, join(dirname(resolve(file)), 'workflows')]
      .flatMap(runbookFiles)
      .map((f) => shown.get(resolve(f)) ?? displayPath(f))
      .map(checkRunbook);
    problems.push(...duplicateNames(loaded));
    const byName = new Map([...loaded, ...given].flatMap((r) => (r.name && r.runbook ? [[r.name, r.runbook] as const] : [])));
    problems.push(...catalogProblems(file, catalog, byName));
  }

  // Cross-checks know the path, not the line; the same problem can be found twice (a runbook both
  // given and loaded beside a catalog). Problems are listed file by file, in line order.
  const withLines = problems.map((p) => (p.line === undefined && p.path ? { ...p, line: lineOfPath(p.file, p.path) } : p));
  const unique = [...new Map(withLines.map((p) => [formatProblem(p), p])).values()];
  const order = new Map(checked.map((file, index) => [file, index]));
  unique.sort((a, b) => (order.get(a.file) ?? -1) - (order.get(b.file) ?? -1) || (a.line ?? 0) - (b.line ?? 0));
  return { checked, problems: unique };
}

/** The files under the given paths: directories walked for *.yml and *.yaml, missing paths reported. */
function expand(paths: string[], problems: Problem[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push({ file: path, path: '', message: code === 'ENOENT' ? 'no such file or folder; expected a catalog or runbook (.yml, .yaml) or a folder of them' : `cannot read it (${code ?? String(error)})` });
      continue;
    }
    if (!isDirectory) {
      files.push(path);
      continue;
    }
    const found = walk(path);
    if (found.length === 0) problems.push({ file: path, path: '', message: 'no .yml or .yaml files in this folder; expected catalogs or runbooks' });
    files.push(...found);
  }
  return files;
}

function walk(dir: string): string[] {
  const files: string[] = [];
  const pending = [dir];
  const seen = new Set<string>();
  while (pending.length) {
    const current = pending.shift()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    const subdirs: string[] = [];
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(current, entry.name);
      // Symbolic links to folders are not followed (no cycles); links to files are checked.
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !SKIPPED_DIRS.has(entry.name)) subdirs.push(path);
      } else if (YAML_FILE.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && isFile(path)))) {
        if (!seen.has(resolve(path))) files.push(path);
        seen.add(resolve(path));
      }
    }
    pending.unshift(...subdirs);
  }
  return files;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Runbook names defined twice: the later file is reported, as the bot would at load. */
function duplicateNames(results: RunbookResult[]): Problem[] {
  const first = new Map<string, string>();
  const problems: Problem[] = [];
  for (const { file, name } of results) {
    if (!name) continue;
    const other = first.get(name);
    if (other === undefined) first.set(name, file);
    else if (resolve(other) !== resolve(file)) {
      problems.push({ file, path: 'name', message: `a runbook named "${name}" is already defined in ${other}; names must be unique` });
    }
  }
  return problems;
}

/** A path relative to the working directory when it lies inside it. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The CLI action: prints each problem and a summary; the exit code is 1 when there is any problem. */
export function validateCommand(paths: string[], io: Output): number {
  const { checked, problems } = validatePaths(paths);
  for (const problem of problems) io.out(formatProblem(problem));
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  io.out(`${plural(checked.length, 'file')} checked, ${plural(problems.length, 'problem')}`);
  return problems.length ? 1 : 0;
}
