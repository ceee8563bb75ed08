// The databases a service's runbooks may change (catalog `databases`), by platform: Aurora
// Serverless v2 clusters through the RDS API. One target per (service, name), made on first use.
import type { Catalog } from '../config/catalog.ts';
import type { Clock } from '../ports/clock.port.ts';
import type { DatabaseTarget } from '../ports/database-target.port.ts';
import type { AuroraTargetOptions, auroraTarget } from './aws/index.ts';

export type DatabaseResolver = (service: string, name: string) => DatabaseTarget;

/** `aurora` is the AWS adapter's factory, passed in so its SDK is loaded only when the catalog has databases. */
export function catalogDatabases(catalog: Catalog, clock: Clock, aurora: typeof auroraTarget | undefined, aws: AuroraTargetOptions = {}): DatabaseResolver {
  const made = new Map<string, DatabaseTarget>();
  return (service, name) => {
    const key = JSON.stringify([service, name]);
    const known = made.get(key);
    if (known) return known;
    const config = catalog.services[service]?.databases[name];
    if (!config) throw new Error(`service "${service}" has no database "${name}" in the catalog`);
    // Credentials and region endpoints come from the AWS SDK's default chain (environment, profile, web identity, instance role).
    if (!aurora) throw new Error(`the AWS adapter is not loaded (database "${name}")`);
    const target = aurora({ cluster: config.cluster, region: config.region }, { clock, ...aws });
    made.set(key, target);
    return target;
  };
}
