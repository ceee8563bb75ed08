/**
 * Object storage with etcd-like resource versions and a watch event log.
 *
 * All resource types share one {@link EventLog}: every create/update/delete takes the next
 * value of a single global counter as its `metadata.resourceVersion` (a decimal string on the
 * wire) and appends a watch event. Watches replay the log from a given resourceVersion and then
 * follow it live. The log keeps the most recent `capacity` events; a watch from an older version
 * gets a 410 `Expired` ERROR event, like the real API server.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, conflict, qualifiedResource } from './errors.ts';
import { deepEqual } from './patch.ts';
import type { KubeObject } from './types.ts';

/** A REST resource type served by the simulated API server. */
export interface ResourceType {
  /** API group; '' for the core group (served under /api/v1). */
  group: string;
  version: string;
  /** Lower-case plural used in URLs, e.g. `deployments`. */
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Field labels accepted by `fieldSelector` for this type. */
  fieldLabels: readonly string[];
}

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: WatchEventType;
  resource: ResourceType;
  /** Snapshot of the object after the change (for DELETED: its last state, with the delete's rv). */
  object: KubeObject;
  /** Snapshot before the change (MODIFIED/DELETED), used to translate selector-filtered watches. */
  previous?: KubeObject;
}

/** RFC 3339 timestamp with second precision, as Kubernetes serialises `metav1.Time`. */
export function nowIso(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class EventLog {
  /** The cluster's clock runs this far ahead of the wall clock (see `advance`). */
  private offsetMs = 0;
  private rv = 1000;
  private trimmedThrough = 0;
  private readonly events: StoredEvent[] = [];
  private readonly listeners = new Set<(e: StoredEvent) => void>();

  constructor(private readonly capacity = 10_000) {}

  /** The cluster's time: what its timestamps (creationTimestamp, conditions) and deadlines use. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  nowIso(): string {
    return nowIso(this.now());
  }

  /** Moves the cluster's clock forward, as if that much time had passed. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`the clock only moves forward, not by ${ms} ms`);
    this.offsetMs += ms;
  }

  /** The latest resourceVersion handed out. */
  get currentVersion(): number {
    return this.rv;
  }

  nextVersion(): number {
    return ++this.rv;
  }

  append(e: StoredEvent): void {
    this.events.push(e);
    if (this.events.length > this.capacity) {
      const dropped = this.events.splice(0, this.events.length - this.capacity);
      this.trimmedThrough = dropped[dropped.length - 1]?.rv ?? this.trimmedThrough;
    }
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // A broken watcher must never break a write.
      }
    }
  }

  /** Events with rv > `rv`, or `undefined` if the log no longer reaches back that far. */
  since(rv: number): StoredEvent[] | undefined {
    if (rv < this.trimmedThrough) return undefined;
    return this.events.filter((e) => e.rv > rv);
  }

  subscribe(fn: (e: StoredEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** In-memory objects of one resource type. All reads return deep copies. */
export class Store<T extends KubeObject> {
  private readonly items = new Map<string, T>();

  constructor(readonly type: ResourceType, private readonly log: EventLog) {}

  private static key(ns: string | undefined, name: string): string {
    return `${ns ?? ''}/${name}`;
  }

  get(ns: string | undefined, name: string): T | undefined {
    const o = this.items.get(Store.key(ns, name));
    return o && structuredClone(o);
  }

  has(ns: string | undefined, name: string): boolean {
    return this.items.has(Store.key(ns, name));
  }

  /** Objects in `ns` (all namespaces when undefined), ordered by namespace then name. */
  list(ns?: string): T[] {
    return [...this.items.values()]
      .filter((o) => ns === undefined || o.metadata.namespace === ns)
      .sort((a, b) => Store.key(a.metadata.namespace, a.metadata.name).localeCompare(Store.key(b.metadata.namespace, b.metadata.name)))
      .map((o) => structuredClone(o));
  }

  /** Insert a new object; fills uid, creationTimestamp and resourceVersion. 409 if it exists. */
  create(obj: T): T {
    const { namespace, name } = obj.metadata;
    if (this.has(namespace, name)) {
      throw new ApiError(409, `${qualifiedResource(this.type)} "${name}" already exists`, {
        reason: 'AlreadyExists',
        details: { name, group: this.type.group, kind: this.type.plural },
      });
    }
    const o = structuredClone(obj);
    o.apiVersion = apiVersionOf(this.type);
    o.kind = this.type.kind;
    o.metadata.uid ||= randomUUID();
    o.metadata.creationTimestamp ||= this.log.nowIso();
    const rv = this.log.nextVersion();
    o.metadata.resourceVersion = String(rv);
    this.items.set(Store.key(namespace, name), o);
    this.log.append({ rv, type: 'ADDED', resource: this.type, object: structuredClone(o) });
    return structuredClone(o);
  }

  /**
   * Mutate an object in place (on a copy). If nothing changed no event is emitted and the
   * resourceVersion stays; otherwise the object gets a new resourceVersion and a MODIFIED event.
   * Returns the resulting object, or undefined if it does not exist.
   */
  update(ns: string | undefined, name: string, mutate: (draft: T) => void): T | undefined {
    const current = this.items.get(Store.key(ns, name));
    if (!current) return undefined;
    const draft = structuredClone(current);
    mutate(draft);
    return this.commit(current, draft);
  }

  /**
   * Replace an object wholesale (PUT semantics). When `expectedResourceVersion` is given and does
   * not match, a 409 Conflict is thrown. Identity fields (name, namespace, uid, creation time) are kept.
   */
  replace(next: T, expectedResourceVersion?: string): T | undefined {
    const { namespace, name } = next.metadata;
    const current = this.items.get(Store.key(namespace, name));
    if (!current) return undefined;
    if (expectedResourceVersion && expectedResourceVersion !== current.metadata.resourceVersion) {
      throw conflict(this.type, name);
    }
    const draft = structuredClone(next);
    draft.apiVersion = current.apiVersion;
    draft.kind = current.kind;
    draft.metadata.uid = current.metadata.uid;
    draft.metadata.creationTimestamp = current.metadata.creationTimestamp;
    draft.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.commit(current, draft);
  }

  private commit(current: T, draft: T): T {
    if (deepEqual(current, draft)) return structuredClone(current);
    const rv = this.log.nextVersion();
    draft.metadata.resourceVersion = String(rv);
    this.items.set(Store.key(current.metadata.namespace, current.metadata.name), draft);
    this.log.append({ rv, type: 'MODIFIED', resource: this.type, object: structuredClone(draft), previous: structuredClone(current) });
    return structuredClone(draft);
  }

  delete(ns: string | undefined, name: string): T | undefined {
    const key = Store.key(ns, name);
    const current = this.items.get(key);
    if (!current) return undefined;
    this.items.delete(key);
    const rv = this.log.nextVersion();
    const last = structuredClone(current);
    last.metadata.resourceVersion = String(rv);
    this.log.append({ rv, type: 'DELETED', resource: this.type, object: structuredClone(last), previous: structuredClone(current) });
    return last;
  }
}
