// Loads the runbooks in workflows/ (and a workflows/ folder beside the catalog), validated at load.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runbookSchema, type Runbook } from '../workflows/runbook-schema.ts';
import { parseYamlFile, type Problem } from './problems.ts';

export const DEFAULT_RUNBOOK = 'scale-up';
export const DEFAULT_DOWN_RUNBOOK = 'scale-down';

export interface LoadedRunbooks {
  runbooks: Map<string, Runbook>;
  problems: Problem[];
}

export function runbookFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export function loadRunbooks(dirs: string[]): LoadedRunbooks {
  const runbooks = new Map<string, Runbook>();
  const problems: Problem[] = [];
  for (const file of dirs.flatMap(runbookFiles)) {
    const parsed = parseYamlFile(file, runbookSchema);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    const runbook = parsed.value;
    if (runbooks.has(runbook.name)) {
      problems.push({ file, path: 'name', message: `a runbook named "${runbook.name}" is already defined in another file; names must be unique` });
      continue;
    }
    runbooks.set(runbook.name, runbook);
  }
  return { runbooks, problems };
}
