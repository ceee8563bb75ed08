// Where the project lives and where its built-in runbooks are; a leaf module so the CLI can use it
// without loading the app (Bolt, Kubernetes client, ...).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILTIN_WORKFLOWS = join(PROJECT_ROOT, 'workflows');
