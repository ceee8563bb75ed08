#!/usr/bin/env node
// `npx scalebot <command>`: loads the TypeScript sources through tsx (no build step) and runs the CLI.
import { fileURLToPath, URL } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });

try {
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error('scalebot: internal error:', error);
  process.exitCode = 70;
}
