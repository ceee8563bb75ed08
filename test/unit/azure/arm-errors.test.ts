// ARM and credential errors as sentences; the factory builds a target without touching the network.
import { AuthenticationError } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { describeArmError, isLroFailure, lroFailure } from '../../../src/adapters/azure/arm-errors.ts';
import { AzureContainerAppTarget, azureContainerAppTarget } from '../../../src/adapters/azure/index.ts';

const ctx = { what: 'read Container App rg/api', retries: 3 };
const rest = (statusCode: number, code: string, message: string) => Object.assign(new Error(message), { name: 'RestError', statusCode, code });

describe('describeArmError', () => {
  it('409: another operation is running', () => {
    expect(describeArmError(rest(409, 'ContainerAppOperationInProgress', 'Cannot modify a container app.'), ctx)).toBe(
      'could not read Container App rg/api: Azure answered 409 ContainerAppOperationInProgress: Cannot modify a container app. (another operation on the app is still running; try again once it has finished)',
    );
  });

  it('400: what Azure said, nothing more', () => {
    expect(describeArmError(rest(400, 'ContainerAppInvalidScaleSettings', 'minReplicas (5) cannot be greater than maxReplicas (3).'), ctx)).toBe(
      'could not read Container App rg/api: Azure answered 400 ContainerAppInvalidScaleSettings: minReplicas (5) cannot be greater than maxReplicas (3).',
    );
  });

  it('an Entra ID refusal (bad secret) is refused credentials, with what to check', () => {
    const error = new AuthenticationError(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.\nTrace ID: x' });
    expect(describeArmError(error, ctx)).toMatch(/^could not read Container App rg\/api: Azure refused the credentials \(Microsoft Entra ID: invalid_client: AADSTS7000215: Invalid client secret provided\.\); check AZURE_CLIENT_ID \/ AZURE_TENANT_ID \/ AZURE_CLIENT_SECRET .*Contributor role on the app$/);
  });

  it('a timeout, and a timeout spent throttled', () => {
    expect(describeArmError(new Error('The operation was aborted.'), { ...ctx, timedOutAfterMs: 15_000 })).toBe('could not read Container App rg/api: no answer from Azure Resource Manager within 15s');
    expect(describeArmError(new Error('The operation was aborted.'), { ...ctx, timedOutAfterMs: 15_000, lastStatus: 429 })).toBe('could not read Container App rg/api: Azure Resource Manager kept throttling requests (429) for 15s');
  });

  it('no connection', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'RestError', code: 'ECONNREFUSED' });
    expect(describeArmError(error, ctx)).toBe('could not read Container App rg/api: no answer from Azure Resource Manager (connect ECONNREFUSED 127.0.0.1:1)');
  });

  it('a failed long-running operation keeps the code and message ARM gave', () => {
    const error = new Error('The long-running operation has failed. ContainerAppProvisioningFailed. Quota exceeded.');
    expect(isLroFailure(error)).toBe(true);
    expect(lroFailure(error)).toBe('ContainerAppProvisioningFailed. Quota exceeded.');
    expect(isLroFailure(new Error('other'))).toBe(false);
  });
});

describe('azureContainerAppTarget', () => {
  it('builds a target from the catalog entry with DefaultAzureCredential, without any I/O', () => {
    const target = azureContainerAppTarget({ kind: 'azure-container-app', subscription: 'sub-1', 'resource-group': 'rg-procgenie-prod', app: 'ca-procgenie-api' });
    expect(target).toBeInstanceOf(AzureContainerAppTarget);
    expect((target as AzureContainerAppTarget).label).toBe('Container App rg-procgenie-prod/ca-procgenie-api');
  });
});
