// The expression language of runbook thresholds and targets: "waiting < 100",
// "clamp(ceil(queue.waiting / 50), limits.min, limits.max)", "round(1000 * pow(1.15, 6))".
//
// jsep only parses; nothing is ever eval'd. The jsep tree is compiled into the small tree below,
// which admits numbers, true/false, dotted names, + - * / %, comparisons, && || !, a ? b : c and
// a fixed set of math functions; every other shape jsep (or a plugin someone registers on the shared
// jsep instance) can produce is refused by name. Names are looked up as own data properties of a
// plain scope object, never through prototypes or getters.
//
// Nothing is registered on jsep: its configuration (operators, literals, hooks, plugins) is global to
// the process, so the one change we need, commas required between call arguments, lives in a local
// subclass of jsep's parser (jsep itself also accepts `min(a b)` as `min(a, b)`).
import jsep from 'jsep';

/** A parsed expression: its text (for messages) and jsep's tree. Make one with parseExpression; do not edit the tree. */
export type Expr = { text: string; ast: unknown /* jsep node */ };
export type Scope = { [name: string]: number | boolean | Scope };

/** Why an expression could not be evaluated; `expression` is its text, `reason` the message without it. */
export class ExpressionError extends Error {
  override name = 'ExpressionError';
  constructor(message: string, readonly expression = '', readonly reason = message) {
    super(message);
  }
}

export const MAX_EXPRESSION_LENGTH = 500;
export const MAX_EXPRESSION_DEPTH = 32;

// ---------------------------------------------------------------------------------------------
// The compiled tree

type BinaryOp = '+' | '-' | '*' | '/' | '%' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&&' | '||';
type Node =
  | { type: 'num'; value: number; raw: string }
  | { type: 'bool'; value: boolean }
  | { type: 'name'; path: string[] }
  | { type: 'unary'; op: '-' | '+' | '!'; arg: Node }
  | { type: 'binary'; op: BinaryOp; left: Node; right: Node }
  | { type: 'cond'; test: Node; then: Node; otherwise: Node }
  | { type: 'call'; fn: string; args: Node[] };
type Kind = 'number' | 'boolean' | 'unknown';

const ARITHMETIC = new Set<string>(['+', '-', '*', '/', '%']);
const ORDERING = new Set<string>(['<', '<=', '>', '>=']);
const EQUALITY = new Map<string, BinaryOp>([['==', '=='], ['!=', '!='], ['===', '=='], ['!==', '!=']]);
const LOGICAL = new Set<string>(['&&', '||']);
const PRECEDENCE: Record<BinaryOp, number> = {
  '||': 1, '&&': 2, '==': 6, '!=': 6, '<': 7, '<=': 7, '>': 7, '>=': 7, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
};
const ALLOWED_OPERATORS = '+ - * / % < <= > >= == != && || !, and a ? b : c';

// round: halves go up (round(2.5) = 3, round(-2.5) = -2), as Math.round; log(x) is the natural log.
type MathFunction = { min: number; max: number; usage: string; apply: (args: number[], show: string) => number };
const arg = (args: number[], i: number): number => args[i] ?? NaN;
const FUNCTIONS = new Map<string, MathFunction>([
  ['ceil', { min: 1, max: 1, usage: 'ceil(x)', apply: (a) => Math.ceil(arg(a, 0)) }],
  ['floor', { min: 1, max: 1, usage: 'floor(x)', apply: (a) => Math.floor(arg(a, 0)) }],
  ['round', { min: 1, max: 1, usage: 'round(x)', apply: (a) => Math.round(arg(a, 0)) }],
  ['abs', { min: 1, max: 1, usage: 'abs(x)', apply: (a) => Math.abs(arg(a, 0)) }],
  ['min', { min: 2, max: Infinity, usage: 'min(a, b, …)', apply: (a) => Math.min(...a) }],
  ['max', { min: 2, max: Infinity, usage: 'max(a, b, …)', apply: (a) => Math.max(...a) }],
  ['clamp', {
    min: 3, max: 3, usage: 'clamp(x, lo, hi)',
    apply: (a, show) => {
      const [x, lo, hi] = [arg(a, 0), arg(a, 1), arg(a, 2)];
      if (lo > hi) throw new Failure(`lo (${lo}) is greater than hi (${hi}) in ${show}`);
      return Math.min(Math.max(x, lo), hi);
    },
  }],
  ['pow', { min: 2, max: 2, usage: 'pow(x, y)', apply: (a) => Math.pow(arg(a, 0), arg(a, 1)) }],
  ['sqrt', { min: 1, max: 1, usage: 'sqrt(x)', apply: (a) => Math.sqrt(arg(a, 0)) }],
  ['log', {
    min: 1, max: 2, usage: 'log(x) or log(x, base)',
    apply: (a) => (a.length === 1 ? Math.log(arg(a, 0)) : Math.log(arg(a, 0)) / Math.log(arg(a, 1))),
  }],
]);
const FUNCTION_NAMES = [...FUNCTIONS.keys()].join(', ');

/** An error inside this module; `attached` messages read "<text> <reason>" instead of "<text>: <reason>". */
class Failure extends Error {
  constructor(readonly reason: string, readonly attached = false) {
    super(reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

// jsep's parser class, reached through the default export (the typings do not declare it).
interface JsepParser {
  index: number;
  readonly expr: string;
  readonly code: number;
  gobbleSpaces(): void;
  gobbleExpression(): jsep.Expression | false | undefined;
  throwError(message: string): never;
  parse(): jsep.Expression;
}
const JsepParserClass = (jsep as unknown as { Jsep: new (text: string) => JsepParser }).Jsep;
const COMMA = 44;

class StrictParser extends JsepParserClass {
  /** jsep's own accepts `f(a b)`; this one wants `f(a, b)` and refuses `f(a,)` and `f(,a)`. */
  gobbleArguments(termination: number): jsep.Expression[] {
    const args: jsep.Expression[] = [];
    for (;;) {
      this.gobbleSpaces();
      if (this.index >= this.expr.length) this.throwError(`Expected ${String.fromCharCode(termination)}`);
      if (this.code === termination) {
        this.index++;
        return args;
      }
      if (args.length > 0) {
        if (this.code !== COMMA) this.throwError('Expected comma');
        this.index++;
        this.gobbleSpaces();
      }
      const node = this.gobbleExpression();
      if (!node || node.type === 'Compound') this.throwError(args.length > 0 ? 'Expected expression after ,' : 'Expected comma');
      args.push(node);
    }
  }
}

// Compiled trees of parsed expressions, so evaluate does not compile again.
const compiled = new WeakMap<object, Node>();

/** Parses and checks an expression; the error says what is wrong and, for syntax, where (1-based). */
export function parseExpression(text: string): { ok: true; expr: Expr } | { ok: false; error: string } {
  try {
    if (typeof text !== 'string') return { ok: false, error: 'an expression must be text' };
    if (text.length > MAX_EXPRESSION_LENGTH) {
      return { ok: false, error: `expression is too long (${text.length} characters; the limit is ${MAX_EXPRESSION_LENGTH})` };
    }
    if (text.trim() === '') return { ok: false, error: 'expression is empty' };
    const nesting = nestingError(text);
    if (nesting) return { ok: false, error: nesting };
    let ast: jsep.Expression;
    try {
      ast = new StrictParser(text).parse();
    } catch (error) {
      return { ok: false, error: syntaxError(text, error) };
    }
    const node = compile(ast, 1);
    compiled.set(ast, node);
    return { ok: true, expr: { text, ast } };
  } catch (error) {
    return { ok: false, error: error instanceof Failure ? error.reason : `could not parse: ${String(error)}` };
  }
}

/** Brackets nested deeper than the tree may be, refused before jsep recurses into them. */
function nestingError(text: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    if (depth > MAX_EXPRESSION_DEPTH) {
      return `brackets are nested too deeply (more than ${MAX_EXPRESSION_DEPTH} levels) at character ${i + 1}`;
    }
  }
  return undefined;
}

function syntaxError(text: string, error: unknown): string {
  const details = error as { index?: unknown; description?: unknown };
  if (typeof details.index !== 'number' || typeof details.description !== 'string') {
    return `could not parse: ${error instanceof Error ? error.message : String(error)}`;
  }
  const index = details.index;
  const where = index >= text.length ? 'at the end' : `at character ${index + 1}`;
  if (text[index] === '=' && text[index + 1] === '>') return `arrow functions are not allowed (${where})`;
  if (text[index] === '=') return `assignment with "=" is not allowed (${where}); to compare, use ==`;
  if (text[index] === '`') return `template strings are not allowed (${where})`;
  let description = details.description;
  if (description === 'Unexpected ' || description === 'Unexpected ""') description = 'unexpected end of expression';
  return `${description.charAt(0).toLowerCase()}${description.slice(1)} ${where}`;
}

const KEYWORDS = new Set(['new', 'typeof', 'delete', 'void', 'function', 'return', 'await', 'yield', 'var', 'let', 'const', 'in', 'instanceof', 'class', 'import']);
const FOREIGN_NODES: Record<string, string> = {
  ArrayExpression: 'arrays are not allowed',
  ObjectExpression: 'objects are not allowed',
  ThisExpression: '"this" is not allowed; use the runbook\'s names, like replicas or queue.waiting',
  AssignmentExpression: 'assignment is not allowed; to compare, use ==',
  UpdateExpression: '++ and -- are not allowed',
  ArrowFunctionExpression: 'arrow functions are not allowed',
  NewExpression: '"new" is not allowed',
  TemplateLiteral: 'template strings are not allowed',
  TaggedTemplateExpression: 'template strings are not allowed',
  SpreadElement: '... is not allowed',
};

function compile(raw: jsep.Expression, depth: number): Node {
  if (depth > MAX_EXPRESSION_DEPTH) {
    throw new Failure(`expression is nested too deeply (more than ${MAX_EXPRESSION_DEPTH} levels); split it up`);
  }
  const node = raw as jsep.CoreExpression;
  switch (node.type) {
    case 'Literal': {
      const value = node.value;
      if (typeof value === 'number') {
        if (!Number.isFinite(value)) throw new Failure(`the number ${node.raw} is too large`);
        return { type: 'num', value, raw: node.raw };
      }
      if (typeof value === 'boolean') return { type: 'bool', value };
      if (typeof value === 'string') throw new Failure(`strings are not allowed (${node.raw}); expressions work on numbers and names`);
      throw new Failure(`${node.raw} is not allowed; only numbers, true and false are`);
    }
    case 'Identifier':
    case 'MemberExpression':
      return { type: 'name', path: namePath(node) };
    case 'UnaryExpression': {
      const op = node.operator;
      if (op !== '-' && op !== '+' && op !== '!') {
        throw new Failure(`operator "${op}" is not allowed; allowed: ${ALLOWED_OPERATORS}`);
      }
      const argNode = compile(node.argument, depth + 1);
      const result: Node = { type: 'unary', op, arg: argNode };
      if (op === '!') expectKind(argNode, 'boolean', `"!" needs a condition`);
      else expectKind(argNode, 'number', `unary "${op}" needs a number`);
      return result;
    }
    case 'BinaryExpression':
      return compileBinary(node, depth);
    case 'ConditionalExpression': {
      const result: Node = {
        type: 'cond',
        test: compile(node.test, depth + 1),
        then: compile(node.consequent, depth + 1),
        otherwise: compile(node.alternate, depth + 1),
      };
      expectKind(result.test, 'boolean', 'the test before "?" must be a condition');
      const [a, b] = [kindOf(result.then), kindOf(result.otherwise)];
      if (a !== 'unknown' && b !== 'unknown' && a !== b) {
        throw new Failure(`both sides of ":" must give the same kind of value, but ${show(result)} mixes a number and a condition`);
      }
      return result;
    }
    case 'CallExpression':
      return compileCall(node, depth);
    case 'Compound': {
      if (node.body.length === 0) throw new Failure('expression is empty');
      const keyword = node.body.find((part) => part.type === 'Identifier' && KEYWORDS.has(String(part.name)));
      if (keyword) throw new Failure(`"${String(keyword.name)}" is not allowed`);
      throw new Failure(`found ${node.body.length} expressions where one was expected; join them with an operator (commas only separate function arguments)`);
    }
    case 'SequenceExpression':
      throw new Failure('comma lists are not allowed outside function arguments');
    default: {
      const type = String((raw as { type?: unknown }).type);
      throw new Failure(FOREIGN_NODES[type] ?? `${type} is not allowed`);
    }
  }
}

/** `a`, `a.b.c`: a plain dotted name, nothing computed, optional or read from a non-name. */
function namePath(node: jsep.Expression): string[] {
  const path: string[] = [];
  let current = node as jsep.CoreExpression;
  while (current.type === 'MemberExpression') {
    if (current.computed) throw new Failure('computed access like a[b] is not allowed; use dotted names like limits.max');
    if (current.optional) throw new Failure('"?." is not allowed; use dotted names like limits.max');
    const property = current.property as jsep.CoreExpression;
    if (property.type !== 'Identifier') throw new Failure('only names may follow a "."');
    path.unshift(property.name);
    current = current.object as jsep.CoreExpression;
  }
  if (current.type !== 'Identifier') {
    if (current.type === 'ThisExpression') throw new Failure(FOREIGN_NODES.ThisExpression ?? '"this" is not allowed');
    throw new Failure(`fields can only be read from names (like limits.max), not from ${describeNode(current)}`);
  }
  path.unshift(current.name);
  return path;
}

function describeNode(node: jsep.CoreExpression): string {
  if (node.type === 'Literal') return typeof node.value === 'string' ? 'a string' : node.raw;
  if (node.type === 'CallExpression') return 'a function call';
  return 'a calculation';
}

function compileBinary(node: jsep.BinaryExpression, depth: number): Node {
  const raw = node.operator;
  const op = EQUALITY.get(raw) ?? (ARITHMETIC.has(raw) || ORDERING.has(raw) || LOGICAL.has(raw) ? (raw as BinaryOp) : undefined);
  if (!op) {
    const hint = raw === '**' ? '; use pow(x, y)' : '';
    throw new Failure(`operator "${raw}" is not allowed${hint}; allowed: ${ALLOWED_OPERATORS}`);
  }
  const result: Node = { type: 'binary', op, left: compile(node.left, depth + 1), right: compile(node.right, depth + 1) };
  if (ARITHMETIC.has(op)) {
    if ((op === '/' || op === '%') && result.right.type === 'num' && result.right.value === 0) {
      throw new Failure(`division by zero: ${show(result)}`);
    }
    expectKind(result.left, 'number', `"${op}" needs numbers`);
    expectKind(result.right, 'number', `"${op}" needs numbers`);
  } else if (ORDERING.has(op)) {
    const chained = result.left.type === 'binary' && (ORDERING.has(result.left.op) || EQUALITY.has(result.left.op));
    const hint = chained ? ' (comparisons cannot be chained: write a < b && b < c)' : '';
    expectKind(result.left, 'number', `"${op}" compares numbers`, hint);
    expectKind(result.right, 'number', `"${op}" compares numbers`, hint);
  } else if (LOGICAL.has(op)) {
    expectKind(result.left, 'boolean', `"${op}" needs conditions`);
    expectKind(result.right, 'boolean', `"${op}" needs conditions`);
  } else {
    const [a, b] = [kindOf(result.left), kindOf(result.right)];
    if (a !== 'unknown' && b !== 'unknown' && a !== b) {
      throw new Failure(`"${op}" compares a number with a condition in ${show(result)}`);
    }
  }
  return result;
}

function compileCall(node: jsep.CallExpression, depth: number): Node {
  const callee = node.callee as jsep.CoreExpression;
  if (callee.type !== 'Identifier') {
    if (callee.type === 'MemberExpression' && !callee.computed) {
      let name: string;
      try {
        name = namePath(callee).join('.');
      } catch {
        name = 'a method';
      }
      throw new Failure(`calling "${name}" is not allowed; allowed functions: ${FUNCTION_NAMES}`);
    }
    throw new Failure(`only these functions can be called: ${FUNCTION_NAMES}`);
  }
  const fn = FUNCTIONS.get(callee.name);
  if (!fn) throw new Failure(`function "${callee.name}" is not allowed; allowed: ${FUNCTION_NAMES}`);
  const count = node.arguments.length;
  if (count < fn.min || count > fn.max) {
    const wanted = fn.min === fn.max ? `${fn.min}` : fn.max === Infinity ? `at least ${fn.min}` : `${fn.min} or ${fn.max}`;
    throw new Failure(`${callee.name} takes ${wanted} argument${wanted === '1' ? '' : 's'}, got ${count}: ${fn.usage}`);
  }
  const result: Node = { type: 'call', fn: callee.name, args: node.arguments.map((a) => compile(a, depth + 1)) };
  for (const a of result.args) expectKind(a, 'number', `${callee.name} needs numbers`);
  return result;
}

/** What a node gives, as far as it is known without the scope. */
function kindOf(node: Node): Kind {
  switch (node.type) {
    case 'num': return 'number';
    case 'bool': return 'boolean';
    case 'name': return 'unknown';
    case 'unary': return node.op === '!' ? 'boolean' : 'number';
    case 'binary': return ARITHMETIC.has(node.op) ? 'number' : 'boolean';
    case 'cond': {
      const a = kindOf(node.then);
      return a === kindOf(node.otherwise) ? a : 'unknown';
    }
    case 'call': return 'number';
  }
}

function expectKind(node: Node, kind: 'number' | 'boolean', what: string, hint = ''): void {
  const actual = kindOf(node);
  if (actual !== 'unknown' && actual !== kind) {
    throw new Failure(`${what}, but ${show(node)} is ${actual === 'boolean' ? 'a condition' : 'a number'}${hint}`);
  }
}

/** The node as text, for messages: `service.per_worker`, `ceil(a / b)`, `(a + b) * c`. */
function show(node: Node): string {
  switch (node.type) {
    case 'num': return node.raw;
    case 'bool': return String(node.value);
    case 'name': return node.path.join('.');
    case 'unary': {
      const inner = show(node.arg);
      return node.arg.type === 'binary' || node.arg.type === 'cond' ? `${node.op}(${inner})` : `${node.op}${inner}`;
    }
    case 'binary': {
      const p = PRECEDENCE[node.op];
      const side = (child: Node, right: boolean): string => {
        const cp = child.type === 'cond' ? 0 : child.type === 'binary' ? PRECEDENCE[child.op] : Infinity;
        return cp < p || (right && cp === p) ? `(${show(child)})` : show(child);
      };
      return `${side(node.left, false)} ${node.op} ${side(node.right, true)}`;
    }
    case 'cond': {
      const wrap = (child: Node): string => (child.type === 'cond' ? `(${show(child)})` : show(child));
      return `${wrap(node.test)} ? ${wrap(node.then)} : ${show(node.otherwise)}`;
    }
    case 'call': return `${node.fn}(${node.args.map(show).join(', ')})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Using a parsed expression

function compiledOf(expr: Expr): Node {
  const ast = expr.ast;
  if (typeof ast === 'object' && ast !== null) {
    const known = compiled.get(ast);
    if (known) return known;
  }
  // An Expr not made by parseExpression: check it the same way.
  const text = typeof expr.text === 'string' ? expr.text : '';
  try {
    if (typeof ast !== 'object' || ast === null) throw new Failure('not a parsed expression');
    const node = compile(ast as jsep.Expression, 1);
    compiled.set(ast, node);
    return node;
  } catch (error) {
    throw toExpressionError(text, error);
  }
}

/** The dotted names an expression reads ("queue.waiting", "limits.max", "replicas"), each once, in order. */
export function referencedNames(expr: Expr): string[] {
  const names = new Set<string>();
  const visit = (node: Node): void => {
    switch (node.type) {
      case 'name': names.add(node.path.join('.')); break;
      case 'unary': visit(node.arg); break;
      case 'binary': visit(node.left); visit(node.right); break;
      case 'cond': visit(node.test); visit(node.then); visit(node.otherwise); break;
      case 'call': node.args.forEach(visit); break;
      default: break;
    }
  };
  visit(compiledOf(expr));
  return [...names];
}

/**
 * Evaluates against the scope. && and || and ?: only evaluate the side they need, so
 * `per_worker == 0 ? 0 : n / per_worker` is safe. Throws ExpressionError and nothing else.
 */
export function evaluate(expr: Expr, scope: Scope): number | boolean {
  const node = compiledOf(expr);
  try {
    const value = run(node, scope);
    return value === 0 ? 0 : value; // no -0
  } catch (error) {
    throw toExpressionError(expr.text, error);
  }
}

export function evaluateNumber(expr: Expr, scope: Scope): number {
  const value = evaluate(expr, scope);
  if (typeof value !== 'number') {
    throw toExpressionError(expr.text, new Failure(`gives ${value} (a condition), but a number was expected`, true));
  }
  return value;
}

export function evaluateBoolean(expr: Expr, scope: Scope): boolean {
  const value = evaluate(expr, scope);
  if (typeof value !== 'boolean') {
    throw toExpressionError(expr.text, new Failure(`gives the number ${value}, but a condition like x < 3 was expected`, true));
  }
  return value;
}

function toExpressionError(text: string, error: unknown): ExpressionError {
  if (error instanceof ExpressionError) return error;
  if (error instanceof Failure) {
    return new ExpressionError(`${text}${error.attached ? ' ' : ': '}${error.reason}`, text, error.reason);
  }
  const reason = `could not be evaluated (${error instanceof Error ? error.message : String(error)})`;
  return new ExpressionError(`${text}: ${reason}`, text, reason);
}

function run(node: Node, scope: Scope): number | boolean {
  switch (node.type) {
    case 'num':
    case 'bool':
      return node.value;
    case 'name':
      return lookup(node.path, scope);
    case 'unary': {
      if (node.op === '!') return !asBoolean(node.arg, run(node.arg, scope), '"!" needs a condition');
      const value = asNumber(node.arg, run(node.arg, scope), `unary "${node.op}" needs a number`);
      return node.op === '-' ? -value : value;
    }
    case 'binary':
      return runBinary(node, scope);
    case 'cond':
      return asBoolean(node.test, run(node.test, scope), 'the test before "?" must be a condition')
        ? run(node.then, scope)
        : run(node.otherwise, scope);
    case 'call': {
      const fn = FUNCTIONS.get(node.fn);
      if (!fn) throw new Failure(`function "${node.fn}" is not allowed`);
      const args = node.args.map((a) => asNumber(a, run(a, scope), `${node.fn} needs numbers`));
      return finite(node, fn.apply(args, show(node)));
    }
  }
}

function runBinary(node: Extract<Node, { type: 'binary' }>, scope: Scope): number | boolean {
  const { op, left, right } = node;
  if (op === '&&' || op === '||') {
    const a = asBoolean(left, run(left, scope), `"${op}" needs conditions`);
    if (op === '&&' ? !a : a) return a;
    return asBoolean(right, run(right, scope), `"${op}" needs conditions`);
  }
  const a = run(left, scope);
  const b = run(right, scope);
  if (op === '==' || op === '!=') {
    if (typeof a !== typeof b) {
      throw new Failure(`"${op}" compares a number with a condition: ${show(left)} is ${a}, ${show(right)} is ${b}`);
    }
    return op === '==' ? a === b : a !== b;
  }
  const what = ORDERING.has(op) ? `"${op}" compares numbers` : `"${op}" needs numbers`;
  const x = asNumber(left, a, what);
  const y = asNumber(right, b, what);
  switch (op) {
    case '<': return x < y;
    case '<=': return x <= y;
    case '>': return x > y;
    case '>=': return x >= y;
    case '+': return finite(node, x + y);
    case '-': return finite(node, x - y);
    case '*': return finite(node, x * y);
    case '/':
    case '%':
      if (y === 0) {
        throw new Failure(`divided by zero: ${show(right)} is 0`, true);
      }
      return finite(node, op === '/' ? x / y : x % y);
  }
}

function finite(node: Node, value: number): number {
  if (!Number.isFinite(value)) throw new Failure(`${show(node)} is ${value}, not a finite number`);
  return value;
}

function asNumber(node: Node, value: number | boolean, what: string): number {
  if (typeof value !== 'number') throw new Failure(`${what}, but ${show(node)} is a condition (${value})`);
  return value;
}

function asBoolean(node: Node, value: number | boolean, what: string): boolean {
  if (typeof value !== 'boolean') throw new Failure(`${what}, but ${show(node)} is a number (${value})`);
  return value;
}

/** Reads a dotted name from the scope: own data properties of plain objects only. */
function lookup(path: string[], scope: Scope): number | boolean {
  const full = path.join('.');
  let level: unknown = scope;
  for (let i = 0; i < path.length; i++) {
    const key = path[i] ?? '';
    const where = path.slice(0, i).join('.');
    if (!isGroup(level)) {
      if (i === 0) throw new Failure(`unknown name "${full}"; no names are available`);
      throw new Failure(`unknown name "${full}"; ${where} is ${describeValue(level)}, not a group of names`);
    }
    const descriptor = Object.getOwnPropertyDescriptor(level, key);
    if (!descriptor || !('value' in descriptor)) {
      const listing = namesIn(level);
      const available = listing ? `${where ? `${where} has` : 'available'}: ${listing}` : `${where || 'the scope'} has no names`;
      throw new Failure(`unknown name "${full}"; ${available}`);
    }
    level = descriptor.value;
  }
  if (typeof level === 'boolean') return level;
  if (typeof level === 'number') {
    if (!Number.isFinite(level)) throw new Failure(`${full} is ${level}, not a finite number`);
    return level;
  }
  if (isGroup(level)) {
    throw new Failure(`${full} is a group of names (${namesIn(level) || 'empty'}), not a value`);
  }
  throw new Failure(`${full} is ${describeValue(level)}, not a number or true/false`);
}

function isGroup(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number') return `a number (${value})`;
  if (typeof value === 'boolean') return `a condition (${value})`;
  if (typeof value === 'string') return 'text';
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

function namesIn(group: Record<string, unknown>, most = 20): string {
  const keys = Object.keys(group);
  const shown = keys.slice(0, most).join(', ');
  return keys.length > most ? `${shown}, … (${keys.length - most} more)` : shown;
}
