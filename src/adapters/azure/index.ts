// Azure Container Apps (seed 000): the scale target for a catalog service whose target is
// `{ kind: azure-container-app, subscription, resource-group, app }`.
import type { ScaleTarget } from '../../ports/scale-target.port.ts';
import { defaultCredential } from './arm-client.ts';
import { AzureContainerAppTarget, type AzureTargetOptions } from './container-app-target.ts';

export { AZURE_PROBES, AzureContainerAppTarget, type AzureTargetOptions, type AzureTiming, type ContainerAppCoordinates } from './container-app-target.ts';
export { ARM_ENDPOINT, defaultCredential, type ArmRetryOptions } from './arm-client.ts';

/** The catalog's target entry (src/config/catalog.ts, azureContainerAppTargetSchema). */
export interface AzureContainerAppTargetConfig {
  kind?: 'azure-container-app';
  subscription: string;
  'resource-group': string;
  app: string;
}

/** As the adapter's, but the credential defaults to one shared DefaultAzureCredential (AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET, workload or managed identity, Azure CLI…). */
export type AzureContainerAppTargetOptions = Omit<AzureTargetOptions, 'credential'> & { credential?: AzureTargetOptions['credential'] };

/** One Container App as a ScaleTarget. */
export function azureContainerAppTarget(config: AzureContainerAppTargetConfig, opts: AzureContainerAppTargetOptions = {}): ScaleTarget {
  return new AzureContainerAppTarget(
    { subscription: config.subscription, resourceGroup: config['resource-group'], app: config.app },
    { ...opts, credential: opts.credential ?? defaultCredential() },
  );
}
