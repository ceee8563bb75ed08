// Problems with declarative input: every one names its file, the path inside it and what was expected.
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';

export interface Problem {
  file: string;
  /** Dotted path inside the file, e.g. "services.api-gateway.limits.max". */
  path: string;
  line?: number;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.path || '(top level)'}: ${p.message}`;
}

export class InvalidInputError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`);
    this.name = 'InvalidInputError';
  }
}

const MAX_BYTES = 1024 * 1024;

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/** Reads a YAML file and validates it with a zod schema, mapping issues back to lines. */
export function parseYamlFile<S extends z.ZodType>(file: string, schema: S): Parsed<z.output<S>> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    return { ok: false, problems: [{ file, path: '', message: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})` }] };
  }
  if (size > MAX_BYTES) return { ok: false, problems: [{ file, path: '', message: `the file is ${size} bytes; at most ${MAX_BYTES} are accepted` }] };
  return parseYamlText(file, readFileSync(file, 'utf8'), schema);
}

export function parseYamlText<S extends z.ZodType>(file: string, text: string, schema: S): Parsed<z.output<S>> {
  const lineCounter = new LineCounter();
  // maxAliasCount guards against alias bombs ("billion laughs").
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({ file, path: '', line: e.linePos?.[0]?.line, message: `not valid YAML: ${e.message.split('\n')[0]}` })),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { ok: false, problems: [{ file, path: '', message: `not valid YAML: ${(error as Error).message}` }] };
  }
  const result = schema.safeParse(data);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({
      file,
      path: issue.path.map(String).join('.'),
      line: lineOf(doc, lineCounter, issue.path),
      message: issue.message,
    })),
  };
}

function lineOf(doc: Document, counter: LineCounter, path: PropertyKey[]): number | undefined {
  // Walk down as far as the path exists; report the deepest node found.
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      offset = (pair.key as { range?: [number, number] } | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      offset = (node as { range?: [number, number] } | undefined)?.range?.[0] ?? offset;
    } else break;
  }
  if (offset === undefined) offset = (doc.contents as { range?: [number, number] } | null)?.range?.[0];
  return offset === undefined ? undefined : counter.linePos(offset).line;
}
