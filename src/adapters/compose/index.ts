// The Docker Compose scale target (seed 004). Not wired into the app here: a resolver builds one per
// catalog service whose target is `{ kind: docker-compose, project-dir, file?, service }`.
import type { ScaleTarget } from '../../ports/scale-target.port.ts';
import { ComposeTarget, type ComposeTargetConfig, type ComposeTargetOptions } from './compose-target.ts';

export { ComposeTarget, COMPOSE_PROBES, type ComposeTargetConfig, type ComposeTargetOptions } from './compose-target.ts';
export { DockerCommandError, DockerStoppedError, commandLine } from './docker-cli.ts';
export { parsePs, countContainers, type ComposeContainer, type ContainerCounts } from './compose-ps.ts';

/**
 * A Compose service as a ScaleTarget. Throws at once when the service name, project-dir, file or
 * docker executable could be read by docker as an option or is not a single line: nothing runs.
 * The catalog's target (its `kind` is ignored) is accepted as is.
 */
export function composeTarget(config: ComposeTargetConfig & { kind?: string }, opts: ComposeTargetOptions = {}): ScaleTarget & ComposeTarget {
  return new ComposeTarget(config, opts);
}
