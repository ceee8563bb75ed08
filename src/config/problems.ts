// Problems with declarative input: every one names its file, the path inside it and what was expected.
import { isMap, isPair, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
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
/** Catalogs and runbooks are a few levels deep; far deeper is a mistake or an attack on the parser's stack. */
const MAX_DEPTH = 32;
/** How far aliases (*name) may expand the document; guards against alias bombs ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;
/** A file that is not YAML at all can yield thousands of syntax errors; the first few say enough. */
const MAX_YAML_ERRORS = 5;

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
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  const fail = (problem: Problem): Parsed<never> => ({ ok: false, problems: [problem] });
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    // yaml reports a stack overflow while composing deeply nested collections as RESOURCE_EXHAUSTION.
    const exhausted = doc.errors.find((e) => e.code === 'RESOURCE_EXHAUSTION');
    if (exhausted) return fail({ file, path: '', line: lineAt(exhausted.pos[0]), message: `nested too deeply to read; at most ${MAX_DEPTH} levels are accepted` });
    // One mistake often yields the same error several times over; keep one per line and message.
    const unique = new Map<string, Problem>();
    for (const e of doc.errors) {
      const problem = { file, path: '', line: lineAt(e.pos[0]), message: `not valid YAML: ${e.message.split('\n')[0]}` };
      unique.set(`${problem.line}:${problem.message}`, problem);
    }
    const problems = [...unique.values()].slice(0, MAX_YAML_ERRORS);
    const more = unique.size - MAX_YAML_ERRORS;
    if (more > 0) problems.push({ file, path: '', message: `not valid YAML: ${more} more error${more === 1 ? '' : 's'} not shown` });
    return { ok: false, problems };
  }
  const deep = tooDeep(doc.contents);
  if (deep) return fail({ file, path: '', line: lineAt(deep), message: `nested more than ${MAX_DEPTH} levels deep; at most ${MAX_DEPTH} are accepted` });
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const message = (error as Error).message;
    return fail({
      file,
      path: '',
      message: /alias/i.test(message)
        ? `aliases (*name) expand into too much data (an "alias bomb"?); at most ${MAX_ALIAS_COUNT} expanded nodes are accepted`
        : `not valid YAML: ${message}`,
    });
  }
  // yaml keeps a "__proto__" key as an own property; zod records drop it silently and objects call it unknown.
  const protoPaths = protoKeyPaths(data);
  if (protoPaths.length) {
    return {
      ok: false,
      problems: protoPaths.map((path) => ({ file, path: path.join('.'), line: lineOf(doc, lineCounter, path), message: '"__proto__" is not accepted as a key; use a name of letters, digits and dashes' })),
    };
  }
  const result = schema.safeParse(data, { error: issueMessage, reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      let path = issue.path;
      let message = issue.message;
      // Point at the unknown field itself, so the line is the typo's.
      if (issue.code === 'unrecognized_keys' && issue.keys.length === 1) path = [...path, issue.keys[0]!];
      // Schemas describe their patterns ("a channel ID (C…) or #name"); say what was given, too.
      if (issue.code === 'invalid_format' && issue.format === 'regex' && typeof issue.input === 'string' && !message.startsWith('Invalid')) {
        message = `${show(issue.input)} is not accepted; expected ${message}`;
      }
      return { file, path: path.map(String).join('.'), line: lineOf(doc, lineCounter, path), message };
    }),
  };
}

/** zod's default messages, reworded to say what was wrong and what is accepted. Schemas' own messages win. */
const issueMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return `missing; expected ${noun(issue.expected)}`;
      const hint = (issue.expected === 'number' || issue.expected === 'int') && typeof issue.input === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(issue.input) ? ' (remove the quotes)' : '';
      return `expected ${noun(issue.expected)}, got ${show(issue.input)}${hint}`;
    }
    case 'invalid_value':
      return `${show(issue.input)} is not accepted; expected ${issue.values.length === 1 ? show(issue.values[0]) : `one of: ${issue.values.map(String).join(', ')}`}`;
    case 'invalid_union': {
      const options = issue.options as unknown[] | undefined;
      if (!issue.discriminator || !options?.length) return undefined;
      const value = isRecord(issue.input) ? issue.input[issue.discriminator] : undefined;
      return `${value === undefined ? 'missing' : `${show(value)} is not accepted`}; expected one of: ${options.map(String).join(', ')}`;
    }
    case 'unrecognized_keys': {
      const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
      const keys = issue.keys.map((k) => show(k)).join(', ');
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${keys}${shape ? `; expected one of: ${Object.keys(shape).join(', ')}` : ''}`;
    }
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const limit = big ? issue.maximum : issue.minimum;
      const bound = issue.exact ? 'exactly' : big ? 'at most' : 'at least';
      if (issue.origin === 'string' && typeof issue.input === 'string') return `${big ? 'too long' : 'too short'} (${issue.input.length} characters); ${bound} ${limit} accepted`;
      if (issue.origin === 'array' && Array.isArray(issue.input)) return `${issue.input.length} item${issue.input.length === 1 ? '' : 's'}; ${bound} ${limit} accepted`;
      if (issue.inclusive === false) return `${show(issue.input)} is too ${big ? 'big' : 'small'}; expected ${big ? 'below' : 'above'} ${limit}`;
      return `${show(issue.input)} is too ${big ? 'big' : 'small'}; ${bound} ${limit} accepted`;
    }
    default:
      return undefined;
  }
};

function noun(expected: string): string {
  const names: Record<string, string> = { int: 'a whole number', object: 'a map (key: value)', record: 'a map (key: value)', array: 'a list', boolean: 'true or false', number: 'a number', string: 'a string' };
  return names[expected] ?? expected;
}

/** A value as it reads in a message: strings quoted and cut short, collections named. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : 'a number too large to represent';
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Offset of the first node nested deeper than MAX_DEPTH, walking without recursion. */
function tooDeep(root: unknown): number | undefined {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth >= MAX_DEPTH) return node.range?.[0];
    for (const item of node.items) stack.push([isPair(item) ? item.value : item, depth + 1]);
  }
  return undefined;
}

/** Paths of every own "__proto__" key in parsed data (aliases make it a graph, hence the visited set). */
function protoKeyPaths(data: unknown): PropertyKey[][] {
  const found: PropertyKey[][] = [];
  const seen = new Set<object>();
  const stack: [unknown, PropertyKey[]][] = [[data, []]];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    if (Array.isArray(value)) value.forEach((item, i) => stack.push([item, [...path, i]]));
    else {
      for (const key of Object.keys(value)) {
        if (key === '__proto__') found.push([...path, key]);
        else stack.push([(value as Record<string, unknown>)[key], [...path, key]]);
      }
    }
  }
  return found.reverse();
}

/** The line of a dotted path ("services.api-gateway.target") in a YAML file, for problems found after parsing. */
export function lineOfPath(file: string, path: string): number | undefined {
  try {
    if (statSync(file).size > MAX_BYTES) return undefined;
    const lineCounter = new LineCounter();
    const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter, prettyErrors: false });
    return lineOf(doc, lineCounter, path ? path.split('.').map((key) => (/^\d+$/.test(key) ? Number(key) : key)) : []);
  } catch {
    return undefined;
  }
}

function lineOf(doc: Document, counter: LineCounter, path: PropertyKey[]): number | undefined {
  // Walk down as far as the path exists; report the deepest node found.
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value) === String(key));
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
