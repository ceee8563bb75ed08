/**
 * PATCH bodies, by Content-Type:
 *
 * - `application/merge-patch+json`: RFC 7386 JSON merge patch.
 * - `application/strategic-merge-patch+json`: approximated as a merge patch in which lists of
 *   objects that all carry a `name` (containers, env, volumes, ...) are merged element-wise by
 *   `name` instead of replaced. `$patch` / `$setElementOrder` directives are not supported.
 * - `application/json-patch+json`: RFC 6902 (add, remove, replace, move, copy, test).
 *
 * Malformed patch documents raise a 400; patches that cannot be applied raise a 422, like
 * the real API server. `application/apply-patch+yaml` (server-side apply) is answered with 415.
 */
import { ApiError, badRequest } from './errors.ts';

export const PATCH_CONTENT_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const;
export type PatchContentType = (typeof PATCH_CONTENT_TYPES)[number];

type JsonObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 7386 merge patch. Returns a new value; `target` is not modified. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: JsonObject = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = applyMergePatch(result[k], v);
  }
  return result;
}

/** Approximate strategic merge patch (see module doc). */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (Array.isArray(patch) && Array.isArray(target) && isNamedList(patch) && isNamedList(target)) {
    const result: JsonObject[] = target.map((x) => clone(x));
    for (const item of patch) {
      const idx = result.findIndex((x) => x.name === item.name);
      if (idx >= 0) result[idx] = applyStrategicMergePatch(result[idx], item) as JsonObject;
      else result.push(clone(item));
    }
    return result;
  }
  if (!isPlainObject(patch)) return clone(patch);
  const result: JsonObject = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue; // directives: not supported, ignored
    if (v === null) delete result[k];
    else result[k] = applyStrategicMergePatch(result[k], v);
  }
  return result;
}

function isNamedList(xs: unknown[]): xs is (JsonObject & { name: unknown })[] {
  return xs.length > 0 && xs.every((x) => isPlainObject(x) && typeof x.name === 'string');
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

/** Validate the shape of an RFC 6902 document (400 on failure). */
export function parseJsonPatch(body: unknown): JsonPatchOp[] {
  if (!Array.isArray(body)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return body.map((raw, i) => {
    if (!isPlainObject(raw)) throw badRequest(`invalid JSON patch operation at index ${i}`);
    const { op, path, from } = raw;
    if (op !== 'add' && op !== 'remove' && op !== 'replace' && op !== 'move' && op !== 'copy' && op !== 'test') {
      throw badRequest(`Unexpected kind: ${String(op)}`);
    }
    if (typeof path !== 'string') throw badRequest(`operation at index ${i} missing path`);
    if ((op === 'move' || op === 'copy') && typeof from !== 'string') throw badRequest(`operation at index ${i} missing from`);
    if ((op === 'add' || op === 'replace' || op === 'test') && !('value' in raw)) {
      throw badRequest(`operation at index ${i} missing value`);
    }
    const result: JsonPatchOp = { op, path };
    if (typeof from === 'string') result.from = from;
    if ('value' in raw) result.value = raw.value;
    return result;
  });
}

function pointerTokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw unprocessable(`JSON pointer must start with "/": ${path}`);
  return path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function unprocessable(message: string): ApiError {
  return new ApiError(422, message);
}

function arrayIndex(tok: string, len: number, allowEnd: boolean): number {
  if (allowEnd && tok === '-') return len;
  if (!/^(0|[1-9]\d*)$/.test(tok)) throw unprocessable(`invalid array index: ${tok}`);
  const i = Number(tok);
  if (i > len || (!allowEnd && i === len)) throw unprocessable(`array index out of bounds: ${tok}`);
  return i;
}

/** Resolve the container holding the last token of `tokens`. */
function parentOf(doc: unknown, tokens: string[], op: string, path: string): unknown {
  let cur = doc;
  for (const tok of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(tok, cur.length, false)];
    else if (isPlainObject(cur) && Object.prototype.hasOwnProperty.call(cur, tok)) cur = cur[tok];
    else throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}"`);
  }
  if (!Array.isArray(cur) && !isPlainObject(cur)) throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}"`);
  return cur;
}

function getAt(doc: unknown, path: string, op: string): unknown {
  const tokens = pointerTokens(path);
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens, op, path);
  const last = tokens[tokens.length - 1] ?? '';
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false)];
  if (isPlainObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) return parent[last];
  throw unprocessable(`${op} operation does not apply: doc is missing key: ${path}`);
}

/** Applies RFC 6902 operations to a copy of `doc` and returns it. */
export function applyJsonPatch(doc: unknown, ops: JsonPatchOp[]): unknown {
  let root = clone(doc);
  const add = (path: string, value: unknown, op: string): void => {
    const tokens = pointerTokens(path);
    if (tokens.length === 0) { root = value; return; }
    const parent = parentOf(root, tokens, op, path);
    const last = tokens[tokens.length - 1] ?? '';
    if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
    else (parent as JsonObject)[last] = value;
  };
  const remove = (path: string, op: string): void => {
    const tokens = pointerTokens(path);
    if (tokens.length === 0) throw unprocessable(`${op} operation does not apply: cannot remove the document root`);
    getAt(root, path, op); // existence check
    const parent = parentOf(root, tokens, op, path);
    const last = tokens[tokens.length - 1] ?? '';
    if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1);
    else delete (parent as JsonObject)[last];
  };
  for (const o of ops) {
    switch (o.op) {
      case 'add': add(o.path, clone(o.value), 'add'); break;
      case 'remove': remove(o.path, 'remove'); break;
      case 'replace': remove(o.path, 'replace'); add(o.path, clone(o.value), 'replace'); break;
      case 'move': {
        const v = getAt(root, o.from ?? '', 'move');
        remove(o.from ?? '', 'move');
        add(o.path, v, 'move');
        break;
      }
      case 'copy': add(o.path, clone(getAt(root, o.from ?? '', 'copy')), 'copy'); break;
      case 'test':
        if (!deepEqual(getAt(root, o.path, 'test'), o.value)) {
          throw unprocessable(`testing value ${o.path} failed: test failed`);
        }
        break;
    }
  }
  return root;
}

/**
 * Apply a PATCH body of the given Content-Type to `doc`, returning the patched copy.
 * Throws 415 for unsupported content types, 400/422 for bad patches.
 */
export function applyPatch(contentType: string | undefined, doc: unknown, body: unknown): unknown {
  const ct = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  switch (ct) {
    case 'application/json-patch+json':
      return applyJsonPatch(doc, parseJsonPatch(body));
    case 'application/merge-patch+json':
      if (!isPlainObject(body)) throw badRequest('merge patch body must be a JSON object');
      return applyMergePatch(doc, body);
    case 'application/strategic-merge-patch+json':
      if (!isPlainObject(body)) throw badRequest('strategic merge patch body must be a JSON object');
      return applyStrategicMergePatch(doc, body);
    default:
      throw new ApiError(
        415,
        `the body of the request was in an unknown format - accepted media types include: ${PATCH_CONTENT_TYPES.join(', ')}`,
      );
  }
}
