import jsep from 'jsep';
import { describe, expect, it } from 'vitest';
import {
  evaluate,
  evaluateBoolean,
  evaluateNumber,
  ExpressionError,
  parseExpression,
  referencedNames,
  type Expr,
  type Scope,
} from '../../src/workflows/expression.ts';

const OPERATORS = '+ - * / % < <= > >= == != && || !, and a ? b : c';
const FUNCTIONS = 'ceil, floor, round, abs, min, max, clamp, pow, sqrt, log';

const SCOPE: Scope = {
  replicas: 6,
  waiting: 40,
  min: 80,
  ready: true,
  limits: { min: 3, max: 50 },
  queue: { waiting: 120, active: 4, failed: 0 },
  service: { pool: 20, reserve: 10, peak_rps: 5000, rps_per_pod: 500, per_worker: 0 },
  db: { max_connections: 100 },
};

function parse(text: string): Expr {
  const result = parseExpression(text);
  if (!result.ok) throw new Error(`expected "${text}" to parse, got: ${result.error}`);
  return result.expr;
}
const run = (text: string, scope: Scope = SCOPE) => evaluate(parse(text), scope);
function parseError(text: string): string {
  const result = parseExpression(text);
  if (result.ok) throw new Error(`expected "${text}" to be refused`);
  return result.error;
}
function caught(action: () => unknown): ExpressionError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ExpressionError);
    return error as ExpressionError;
  }
  throw new Error('expected an ExpressionError');
}
const evalError = (text: string, scope: Scope = SCOPE) => caught(() => evaluate(parse(text), scope));

describe('the seed runbooks', () => {
  it('computes workers = clamp(ceil(queue / 50), 3, 50)', () => {
    const workers = parse('clamp(ceil(queue.waiting / 50), limits.min, limits.max)');
    expect(evaluateNumber(workers, SCOPE)).toBe(3); // ceil(120 / 50) = 3
    expect(evaluateNumber(workers, { ...SCOPE, queue: { waiting: 2600 } })).toBe(50); // ceil(52) clamped
    expect(evaluateNumber(workers, { ...SCOPE, queue: { waiting: 10 } })).toBe(3); // ceil(0.2) = 1, clamped up
    expect(referencedNames(workers)).toEqual(['queue.waiting', 'limits.min', 'limits.max']);
  });
  it('sizes for peak traffic with headroom: ceil(5000 / 500 * 1.3) = 13', () => {
    expect(run('ceil(service.peak_rps / service.rps_per_pod * 1.3)')).toBe(13);
  });
  it('compounds growth: round(1000 * pow(1.15, 6)) = 2313', () => {
    expect(run('round(1000 * pow(1.15, 6))')).toBe(2313);
  });
  it('checks the connection budget: 6 × 20 ≤ 100 − 10 is false, 4 × 20 is true', () => {
    const budget = parse('replicas * service.pool <= db.max_connections - service.reserve');
    expect(evaluateBoolean(budget, SCOPE)).toBe(false);
    expect(evaluateBoolean(budget, { ...SCOPE, replicas: 4 })).toBe(true);
    expect(referencedNames(budget)).toEqual(['replicas', 'service.pool', 'db.max_connections', 'service.reserve']);
  });
  it('reads plain thresholds, including names that are also function names', () => {
    expect(run('waiting < 100')).toBe(true);
    expect(run('min > 70')).toBe(true);
    expect(run('min(min, 70)')).toBe(70);
  });
});

describe('operators', () => {
  it.each([
    ['7 + 2', 9], ['7 - 2', 5], ['7 * 2', 14], ['7 / 2', 3.5], ['7 % 2', 1], ['-7 % 2', -1],
    ['-replicas', -6], ['+replicas', 6], ['--replicas', 6], ['.5 + 5.', 5.5], ['1e3', 1000], ['-0', 0],
    ['1 < 2', true], ['2 < 2', false], ['2 <= 2', true], ['3 > 2', true], ['2 > 2', false], ['2 >= 2', true],
    ['2 == 2', true], ['2 != 2', false], ['2 === 2', true], ['2 !== 3', true], ['true == ready', true], ['false != ready', true],
    ['true && false', false], ['true && true', true], ['false || true', true], ['false || false', false],
    ['!ready', false], ['!!ready', true], ['ready ? 1 : 2', 1], ['!ready ? 1 : 2', 2],
  ])('%s = %s', (text, expected) => {
    expect(run(text)).toBe(expected);
  });

  it('keeps the usual precedence and associativity', () => {
    expect(run('2 + 3 * 4')).toBe(14);
    expect(run('(2 + 3) * 4')).toBe(20);
    expect(run('10 - 4 - 3')).toBe(3);
    expect(run('64 / 4 / 2')).toBe(8);
    expect(run('-2 * 3')).toBe(-6);
    expect(run('10 - -2')).toBe(12);
    expect(run('1 + 2 < 4 && 3 * 2 == 6')).toBe(true);
    expect(run('false && true || true')).toBe(true); // (false && true) || true
    expect(run('true || false && false')).toBe(true); // true || (false && false)
    expect(run('!ready || replicas > 5')).toBe(true);
    expect(run('replicas > 5 ? replicas > 10 ? 3 : 2 : 1')).toBe(2);
    expect(run('ready ? 1 : ready ? 2 : 3')).toBe(1);
    expect(run('ready && replicas > 100 ? 1 : 0')).toBe(0); // (ready && …) ? 1 : 0
  });

  it('has the whitelisted functions', () => {
    expect(run('ceil(1.2)')).toBe(2);
    expect(run('floor(1.8)')).toBe(1);
    expect(run('round(2.5)')).toBe(3);
    expect(run('abs(-4)')).toBe(4);
    expect(run('min(4, 2, 9)')).toBe(2);
    expect(run('max(4, 2, 9)')).toBe(9);
    expect(run('clamp(70, limits.min, limits.max)')).toBe(50);
    expect(run('clamp(-5, 0, 10)')).toBe(0);
    expect(run('pow(2, 10)')).toBe(1024);
    expect(run('sqrt(81)')).toBe(9);
    expect(run('log(1)')).toBe(0);
    expect(run('log(1000, 10)')).toBeCloseTo(3, 12);
  });

  it('checks how many arguments a function takes', () => {
    expect(parseError('ceil(1, 2)')).toBe('ceil takes 1 argument, got 2: ceil(x)');
    expect(parseError('clamp(1, 2)')).toBe('clamp takes 3 arguments, got 2: clamp(x, lo, hi)');
    expect(parseError('pow(2)')).toBe('pow takes 2 arguments, got 1: pow(x, y)');
    expect(parseError('min(replicas)')).toBe('min takes at least 2 arguments, got 1: min(a, b, …)');
    expect(parseError('max(a -b)')).toMatch(/^max takes at least 2 arguments, got 1/); // a - b, not a, -b
    expect(parseError('sqrt()')).toBe('sqrt takes 1 argument, got 0: sqrt(x)');
    expect(parseError('log(1, 2, 3)')).toBe('log takes 1 or 2 arguments, got 3: log(x) or log(x, base)');
  });

  it('wants commas between arguments (jsep itself accepts min(1 2))', () => {
    expect(parseError('min(1 2)')).toBe('expected comma at character 7');
    expect(parseError('min(1,)')).toBe('expected expression after , at character 7');
    expect(parseError('min(,1)')).toBe('expected comma at character 5');
    expect(parseError('min(1, 2')).toBe('expected ) at the end');
    expect(run('min( 1 ,2 )')).toBe(1);
  });

  it('short-circuits && || and ?: so a guard protects a division', () => {
    expect(run('service.per_worker == 0 ? 0 : queue.waiting / service.per_worker')).toBe(0);
    expect(run('service.per_worker != 0 && queue.waiting / service.per_worker > 1')).toBe(false);
    expect(run('service.per_worker == 0 || queue.waiting / service.per_worker > 1')).toBe(true);
  });
});

describe('names', () => {
  it('resolves dotted names and lists them for the validator', () => {
    const expr = parse('queue.waiting + queue.waiting * limits.max > replicas');
    expect(referencedNames(expr)).toEqual(['queue.waiting', 'limits.max', 'replicas']);
    expect(referencedNames(parse('round(1000 * pow(1.15, 6))'))).toEqual([]);
    expect(referencedNames(parse('ready ? a.b.c : -d'))).toEqual(['ready', 'a.b.c', 'd']);
  });

  it('names an unknown name and what is available at that level', () => {
    expect(evalError('queue.wating < 100').message).toBe(
      'queue.wating < 100: unknown name "queue.wating"; queue has: waiting, active, failed',
    );
    const top = evalError('replicass > 3');
    expect(top.message).toBe(
      'replicass > 3: unknown name "replicass"; available: replicas, waiting, min, ready, limits, queue, service, db',
    );
    expect(top.expression).toBe('replicass > 3');
    expect(top.reason).toMatch(/^unknown name "replicass"/);
    expect(evalError('replicas.max').message).toBe(
      'replicas.max: unknown name "replicas.max"; replicas is a number (6), not a group of names',
    );
    expect(evalError('x', {}).message).toBe('x: unknown name "x"; the scope has no names');
  });

  it('refuses a group where a value is wanted, and values that are not numbers or true/false', () => {
    expect(evalError('limits + 1').message).toBe('limits + 1: limits is a group of names (min, max), not a value');
    const odd = { text: 'x', list: [1], nothing: null, nan: NaN } as unknown as Scope;
    expect(evalError('text', odd).message).toBe('text: text is text, not a number or true/false');
    expect(evalError('list', odd).message).toBe('list: list is a list, not a number or true/false');
    expect(evalError('nothing', odd).message).toBe('nothing: nothing is null, not a number or true/false');
    expect(evalError('nan', odd).message).toBe('nan: nan is NaN, not a finite number');
  });

  it('never reaches the prototype chain', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'limits.constructor', 'limits.__proto__', 'queue.toString']) {
      expect(evalError(name).reason).toMatch(new RegExp(`^unknown name "${name}"; `));
    }
    expect(evalError('limits.constructor').message).toBe(
      'limits.constructor: unknown name "limits.constructor"; limits has: min, max',
    );
  });

  it('does not run getters in the scope', () => {
    let called = false;
    const scope = Object.defineProperty({}, 'sneaky', { get: () => { called = true; return 1; }, enumerable: true });
    expect(evalError('sneaky', scope as Scope).reason).toMatch(/^unknown name "sneaky"/);
    expect(called).toBe(false);
  });

  it('works with scopes that have no prototype and own keys named like Object methods', () => {
    const bare = Object.assign(Object.create(null) as Scope, { x: 2, inner: Object.assign(Object.create(null) as Scope, { y: 3 }) });
    expect(run('x * inner.y', bare)).toBe(6);
    expect(run('constructor + toString', { constructor: 1, toString: 2 } as unknown as Scope)).toBe(3);
  });
});

describe('evaluation errors', () => {
  it('says which expression divided by zero and why', () => {
    expect(evalError('ceil(queue.waiting / service.per_worker)').message).toBe(
      'ceil(queue.waiting / service.per_worker) divided by zero: service.per_worker is 0',
    );
    expect(evalError('replicas % (limits.min - 3)').message).toBe(
      'replicas % (limits.min - 3) divided by zero: limits.min - 3 is 0',
    );
    expect(parseError('replicas / 0')).toBe('division by zero: replicas / 0');
  });

  it('refuses NaN and Infinity results', () => {
    expect(evalError('sqrt(-1) > 0').message).toBe('sqrt(-1) > 0: sqrt(-1) is NaN, not a finite number');
    expect(evalError('pow(10, 400)').message).toBe('pow(10, 400): pow(10, 400) is Infinity, not a finite number');
    expect(evalError('log(0)').reason).toBe('log(0) is -Infinity, not a finite number');
    expect(evalError('1e300 * 1e300').reason).toBe('1e300 * 1e300 is Infinity, not a finite number');
    expect(parseError('1e400')).toBe('the number 1e400 is too large');
  });

  it('refuses clamp with lo above hi', () => {
    expect(evalError('clamp(replicas, limits.max, limits.min)').reason).toBe(
      'lo (50) is greater than hi (3) in clamp(replicas, limits.max, limits.min)',
    );
  });

  it('keeps numbers and conditions apart', () => {
    expect(evalError('!replicas').reason).toBe('"!" needs a condition, but replicas is a number (6)');
    expect(evalError('replicas && ready').reason).toBe('"&&" needs conditions, but replicas is a number (6)');
    expect(evalError('ready + 1').reason).toBe('"+" needs numbers, but ready is a condition (true)');
    expect(evalError('ready < 1').reason).toBe('"<" compares numbers, but ready is a condition (true)');
    expect(evalError('ready == 1').reason).toBe('"==" compares a number with a condition: ready is true, 1 is 1');
    expect(evalError('replicas ? 1 : 2').reason).toBe('the test before "?" must be a condition, but replicas is a number (6)');
    expect(evalError('ceil(ready)').reason).toBe('ceil needs numbers, but ready is a condition (true)');
    expect(evalError('-ready').reason).toBe('unary "-" needs a number, but ready is a condition (true)');
  });

  it('catches type mistakes it can see without a scope when parsing', () => {
    expect(parseError('1 < 2 < 3')).toBe(
      '"<" compares numbers, but 1 < 2 is a condition (comparisons cannot be chained: write a < b && b < c)',
    );
    expect(parseError('(replicas > 3) + 1')).toBe('"+" needs numbers, but replicas > 3 is a condition');
    expect(parseError('replicas && 1')).toBe('"&&" needs conditions, but 1 is a number');
    expect(parseError('!3')).toBe('"!" needs a condition, but 3 is a number');
    expect(parseError('true == 1')).toBe('"==" compares a number with a condition in true == 1');
    expect(parseError('1 ? 2 : 3')).toBe('the test before "?" must be a condition, but 1 is a number');
    expect(parseError('ready ? 1 : false')).toBe(
      'both sides of ":" must give the same kind of value, but ready ? 1 : false mixes a number and a condition',
    );
    expect(parseError('max(1, 2 > 1)')).toBe('max needs numbers, but 2 > 1 is a condition');
  });

  it('evaluateNumber and evaluateBoolean check the kind of result', () => {
    expect(evaluateNumber(parse('replicas * 2'), SCOPE)).toBe(12);
    expect(evaluateBoolean(parse('replicas > 2'), SCOPE)).toBe(true);
    expect(caught(() => evaluateNumber(parse('replicas > 2'), SCOPE)).message).toBe(
      'replicas > 2 gives true (a condition), but a number was expected',
    );
    expect(caught(() => evaluateBoolean(parse('replicas * 2'), SCOPE)).message).toBe(
      'replicas * 2 gives the number 12, but a condition like x < 3 was expected',
    );
  });
});

describe('refuses everything else, saying what and, for syntax, where', () => {
  it.each([
    ['(1))', 'unexpected ")" at character 4'],
    ['((1)', 'unclosed ( at the end'],
    ['1 +', 'expected expression after + at the end'],
    ['a.', 'unexpected end of expression at the end'],
    ['ready ? 1', 'expected : at the end'],
    ['#', 'unexpected "#" at character 1'],
    ['0x10', 'variable names cannot start with a number (0x) at character 2'],
    ['', 'expression is empty'],
    ['   ', 'expression is empty'],
    ["'x'", "strings are not allowed ('x'); expressions work on numbers and names"],
    ['"x" == "x"', 'strings are not allowed ("x"); expressions work on numbers and names'],
    ['`x`', 'template strings are not allowed (at character 1)'],
    ['null', 'null is not allowed; only numbers, true and false are'],
    ['[1, 2]', 'arrays are not allowed'],
    ['{a: 1}', 'unexpected "{" at character 1'],
    ['a[0]', 'computed access like a[b] is not allowed; use dotted names like limits.max'],
    ['limits["min"]', 'computed access like a[b] is not allowed; use dotted names like limits.max'],
    ['a?.b', '"?." is not allowed; use dotted names like limits.max'],
    ['this', '"this" is not allowed; use the runbook\'s names, like replicas or queue.waiting'],
    ['this.constructor', '"this" is not allowed; use the runbook\'s names, like replicas or queue.waiting'],
    ['a = 1', 'assignment with "=" is not allowed (at character 3); to compare, use =='],
    ['replicas += 1', 'assignment with "=" is not allowed (at character 11); to compare, use =='],
    ['(() => 1)()', 'arrow functions are not allowed (at character 5)'],
    ['x => x', 'arrow functions are not allowed (at character 3)'],
    ['new Date()', '"new" is not allowed'],
    ['typeof replicas', '"typeof" is not allowed'],
    ['a b', 'found 2 expressions where one was expected; join them with an operator (commas only separate function arguments)'],
    ['1; 2', 'found 2 expressions where one was expected; join them with an operator (commas only separate function arguments)'],
    ['(1, 2)', 'comma lists are not allowed outside function arguments'],
    ['a ** 2', `operator "**" is not allowed; use pow(x, y); allowed: ${OPERATORS}`],
    ['a | 1', `operator "|" is not allowed; allowed: ${OPERATORS}`],
    ['a ?? 1', `operator "??" is not allowed; allowed: ${OPERATORS}`],
    ['~a', `operator "~" is not allowed; allowed: ${OPERATORS}`],
    ['eval(\'1\')', `function "eval" is not allowed; allowed: ${FUNCTIONS}`],
    ["require('fs')", `function "require" is not allowed; allowed: ${FUNCTIONS}`],
    ['constructor(1)', `function "constructor" is not allowed; allowed: ${FUNCTIONS}`],
    ['process.exit()', `calling "process.exit" is not allowed; allowed functions: ${FUNCTIONS}`],
    ['Math.max(1, 2)', `calling "Math.max" is not allowed; allowed functions: ${FUNCTIONS}`],
    ['replicas.toFixed(2)', `calling "replicas.toFixed" is not allowed; allowed functions: ${FUNCTIONS}`],
    ['ceil(1)(2)', `only these functions can be called: ${FUNCTIONS}`],
    ['(1 + 2).x', 'fields can only be read from names (like limits.max), not from a calculation'],
    ['ceil(1).x', 'fields can only be read from names (like limits.max), not from a function call'],
    ["'abc'.length", 'fields can only be read from names (like limits.max), not from a string'],
  ])('%j', (text, error) => {
    expect(parseError(text)).toBe(error);
  });

  it('leaves names like globalThis and process to the scope, where they are unknown', () => {
    expect(referencedNames(parse('globalThis'))).toEqual(['globalThis']);
    expect(evalError('globalThis').reason).toMatch(/^unknown name "globalThis"; available: replicas/);
    expect(evalError('process.env.HOME').reason).toMatch(/^unknown name "process.env.HOME"; available: /);
  });
});

describe('limits against hostile runbooks', () => {
  it('refuses long text before parsing it', () => {
    expect(parseError('x'.repeat(10_000))).toBe('expression is too long (10000 characters; the limit is 500)');
    expect(parseError(`${'('.repeat(1000)}1${')'.repeat(1000)}`)).toBe(
      'expression is too long (2001 characters; the limit is 500)',
    );
    expect(parseExpression(`${'1 + '.repeat(30)}1`.padEnd(500, ' ')).ok).toBe(true);
  });

  it('refuses deep nesting, in brackets or in the tree', () => {
    expect(parseError(`${'('.repeat(100)}1${')'.repeat(100)}`)).toBe(
      'brackets are nested too deeply (more than 32 levels) at character 33',
    );
    expect(run(`${'('.repeat(32)}1${')'.repeat(32)}`)).toBe(1);
    expect(parseError(`${'-'.repeat(40)}1`)).toBe('expression is nested too deeply (more than 32 levels); split it up');
    expect(parseError(`${'1 + '.repeat(40)}1`)).toBe('expression is nested too deeply (more than 32 levels); split it up');
    expect(parseError(`${'abs('.repeat(40)}1${')'.repeat(40)}`)).toBe(
      'brackets are nested too deeply (more than 32 levels) at character 132',
    );
  });

  it('gives only the documented errors for any of these', () => {
    const hostile = [
      'process.exit()', "require('fs')", 'this.constructor', '(() => 1)()', 'a[0]', "'x'", '`x`', "eval('1')",
      'globalThis', 'constructor', '__proto__', 'toString', 'limits.constructor', 'limits.__proto__.polluted',
      'constructor.constructor("return process")()', 'Function("return 1")()', '__proto__.x = 1', 'a.b.c.d.e.f',
      `${'('.repeat(1000)}1${')'.repeat(1000)}`, 'x'.repeat(10_000), '\u0000', '\\', '1 +* 2', 'min(', ')', '?',
      'a ? b :', ',', ';', 'import("fs")', 'async () => 1', 'function () {}', '/x/.test("y")', '1..toString()',
      'x.1', '@', 'new.target', 'arguments', 'undefined', 'NaN', 'Infinity', 'ceil.call(1)', 'ceil.apply', 'ceil',
      ...Array.from({ length: 200 }, (_, i) => 'min(a, b) ? (c) : [d] . e == "f" `g` ++ -- !~ , ; {}'.slice(i % 50, (i % 50) + 1 + (i % 13))),
    ];
    for (const text of hostile) {
      const result = parseExpression(text);
      if (!result.ok) {
        expect(typeof result.error).toBe('string');
        continue;
      }
      try {
        evaluate(result.expr, SCOPE);
        referencedNames(result.expr);
      } catch (error) {
        expect(error, text).toBeInstanceOf(ExpressionError);
      }
    }
  });

  it('refuses a hand-made tree the same way as a parsed one', () => {
    const assignment = { text: 'x = 1', ast: { type: 'AssignmentExpression', operator: '=', left: { type: 'Identifier', name: 'x' }, right: { type: 'Literal', value: 1, raw: '1' } } };
    expect(caught(() => evaluate(assignment, SCOPE)).message).toBe('x = 1: assignment is not allowed; to compare, use ==');
    expect(caught(() => referencedNames(assignment)).expression).toBe('x = 1');
    expect(caught(() => evaluate({ text: 'nothing', ast: null }, SCOPE)).message).toBe('nothing: not a parsed expression');
    let deep: unknown = { type: 'Literal', value: 1, raw: '1' };
    for (let i = 0; i < 10_000; i++) deep = { type: 'UnaryExpression', operator: '-', argument: deep, prefix: true };
    expect(() => evaluate({ text: 'deep', ast: deep }, SCOPE)).toThrow(/nested too deeply/);
    // A parsed tree is checked once; changing it afterwards is not supported, and a new tree is checked afresh.
    expect(evaluate({ text: '2 * 3', ast: jsep('2 * 3') }, SCOPE)).toBe(6);
    expect(() => evaluate({ text: 'eval(1)', ast: jsep('eval(1)') }, SCOPE)).toThrow(/function "eval" is not allowed/);
  });

  it('changes nothing on the shared jsep instance', () => {
    const before = { binary: { ...jsep.binary_ops }, unary: { ...jsep.unary_ops }, plugins: Object.keys(jsep.plugins.registered) };
    parse('min(1, 2) + 1');
    parseError('min(1 2)');
    expect(jsep.binary_ops).toEqual(before.binary);
    expect(jsep.unary_ops).toEqual(before.unary);
    expect(Object.keys(jsep.plugins.registered)).toEqual(before.plugins);
    // jsep's own parser still reads `f(a b)` its lenient way: the strict argument rule is ours alone.
    expect((jsep('min(1 2)') as jsep.CallExpression).arguments).toHaveLength(2);
  });
});
