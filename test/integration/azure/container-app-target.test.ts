/**
 * The Azure Container Apps scale target, driven through the real adapter and the real
 * @azure/arm-appcontainers SDK against the local ARM server: plan, apply (the PATCH and its
 * long-running operation), rollback, reconcile, waitForRollout, the azure.replicas probe, and the
 * faults (a failed operation, throttling, refused credentials, a changed app, silence).
 */
import { CredentialUnavailableError, type TokenCredential } from '@azure/identity';
import { afterEach, describe, expect, it } from 'vitest';
import { azureContainerAppTarget, type AzureContainerAppTargetOptions } from '../../../src/adapters/azure/index.ts';
import { startArmServer, type ArmRequest, type ArmServer, type ArmServerOptions, type ContainerAppSeed } from '../../servers/arm-server.ts';

const KEY = { subscription: 'sub-1', resourceGroup: 'rg-prod', name: 'api' };
const APP_PATH = '/subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.App/containerApps/api';
const TOKEN = 'test-token';

const servers: ArmServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function credential(token = TOKEN): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

async function setup(opts: { seed?: Partial<ContainerAppSeed>; server?: ArmServerOptions; target?: Partial<AzureContainerAppTargetOptions> } = {}) {
  const arm = await startArmServer({ tickMs: 10, token: TOKEN, ...opts.server });
  servers.push(arm);
  arm.addApp({ ...KEY, minReplicas: 2, maxReplicas: 20, ...opts.seed });
  const target = azureContainerAppTarget(
    { kind: 'azure-container-app', subscription: KEY.subscription, 'resource-group': KEY.resourceGroup, app: KEY.name },
    {
      credential: credential(),
      endpoint: arm.url,
      allowInsecure: true,
      retry: { maxRetries: 3, retryDelayMs: 10, maxRetryDelayMs: 50, maxRetryAfterMs: 50 },
      timing: { callTimeoutMs: 2_000, updateTimeoutMs: 5_000, lroPollMs: 10, rolloutPollMs: 20 },
      ...opts.target,
    },
  );
  return { arm, target };
}

const patches = (arm: ArmServer): ArmRequest[] => arm.requests.filter((r) => r.method === 'PATCH');
const latestRevision = (arm: ArmServer) => String((arm.app(KEY).properties as { latestRevisionName: string }).latestRevisionName);
const never = new AbortController().signal;
const soon = (ms: number) => Date.now() + ms;

describe('plan', () => {
  it('raises the floor and keeps the ceiling when it is high enough; the undo restores the floor', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    expect(plan.summary).toBe('Set Container App rg-prod/api minReplicas 2 → 10 (maxReplicas stays 20)');
    expect(plan.operation).toEqual({ type: 'set-replica-bounds', minReplicas: 10, from: { minReplicas: 2, maxReplicas: 20 } });
    expect(plan.undo).toEqual({ type: 'set-replica-bounds', minReplicas: 2, from: { minReplicas: 10, maxReplicas: 20 } });
    expect(plan.before).toEqual({ replicas: 2, readyReplicas: 2, bounds: { minReplicas: 2, maxReplicas: 20 } });
    expect(plan.expect).toEqual({ replicas: 10, atLeast: true });
    expect(plan.undoExpect).toEqual({ replicas: 2, atLeast: true });
    expect(plan.changes).toBe(true);
    expect(plan.calls).toEqual([
      `PATCH ${arm.url}${APP_PATH}?api-version=2025-07-01 {"location":"eastus","properties":{"template":{"scale":{"minReplicas":10}}}} (JSON merge patch; then its Azure-AsyncOperation is polled until it ends)`,
    ]);
    expect(patches(arm)).toEqual([]);
  });

  it('raises maxReplicas too when the request is above it, and the undo lowers it back', async () => {
    const { target } = await setup();
    const plan = await target.plan(25);
    expect(plan.summary).toBe('Set Container App rg-prod/api minReplicas 2 → 25 and maxReplicas 20 → 25');
    expect(plan.operation).toEqual({ type: 'set-replica-bounds', minReplicas: 25, maxReplicas: 25, from: { minReplicas: 2, maxReplicas: 20 } });
    expect(plan.undo).toEqual({ type: 'set-replica-bounds', minReplicas: 2, maxReplicas: 20, from: { minReplicas: 25, maxReplicas: 25 } });
  });

  it('changes nothing when the floor is already there', async () => {
    const { target } = await setup({ seed: { minReplicas: 10 } });
    expect((await target.plan(10)).changes).toBe(false);
  });
});

describe('apply, rollout and rollback', () => {
  it('PATCHes template.scale only, follows the long-running operation to its end, and the replicas follow', async () => {
    const { arm, target } = await setup();
    const before = arm.app(KEY);
    const firstRevision = latestRevision(arm);
    const plan = await target.plan(10);
    arm.requests.length = 0;

    const applied = await target.apply(plan.operation);
    expect(applied.before).toEqual({ replicas: 2, readyReplicas: 2, bounds: { minReplicas: 2, maxReplicas: 20 } });
    expect(applied.after.bounds).toEqual({ minReplicas: 10, maxReplicas: 20 });

    // Exactly the body the plan showed, and nothing but template.scale (plus the location the SDK requires).
    const [patch, ...more] = patches(arm);
    expect(more).toEqual([]);
    expect(patch!.body).toEqual({ location: 'eastus', properties: { template: { scale: { minReplicas: 10 } } } });
    expect(plan.calls[0]).toContain(JSON.stringify(patch!.body));
    expect(patch!.authorization).toBe(`Bearer ${TOKEN}`);
    expect(patch!.query['api-version']).toBe('2025-07-01');

    // The operation was polled (InProgress, InProgress, Succeeded), then the resource read from Location.
    const trail = arm.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}$/, '{id}')} ${r.status}`);
    expect(trail).toEqual([
      `GET ${APP_PATH} 200`,
      `GET ${APP_PATH}/revisions/${firstRevision}/replicas 200`,
      `PATCH ${APP_PATH} 202`,
      'GET /subscriptions/sub-1/providers/Microsoft.App/locations/eastus/containerappOperationStatuses/{id} 200',
      'GET /subscriptions/sub-1/providers/Microsoft.App/locations/eastus/containerappOperationStatuses/{id} 200',
      'GET /subscriptions/sub-1/providers/Microsoft.App/locations/eastus/containerappOperationStatuses/{id} 200',
      'GET /subscriptions/sub-1/providers/Microsoft.App/locations/eastus/containerappOperationResults/{id} 200',
    ]);

    // Containers, ingress, secrets and scale rules are as they were.
    const after = arm.app(KEY);
    const props = (a: typeof after) => a.properties as { template: { containers: unknown; scale: Record<string, unknown> }; configuration: unknown; provisioningState: string };
    expect(props(after).template.containers).toEqual(props(before).template.containers);
    expect(props(after).configuration).toEqual(props(before).configuration);
    expect(props(after).template.scale).toEqual({ ...props(before).template.scale, minReplicas: 10 });
    expect(props(after).provisioningState).toBe('Succeeded');
    expect(latestRevision(arm)).not.toBe(firstRevision);

    const rollout = await target.waitForRollout(plan.expect, soon(5_000), never);
    expect(rollout.passed).toBe(true);
    expect(rollout.result).toMatchObject({ ok: true, threshold: 10, source: `Azure Resource Manager (${arm.url})` });
    expect(rollout.result.summary).toMatch(new RegExp(`^1\\d/≥10 replicas running and ready in revision ${latestRevision(arm)} \\(Provisioned, Healthy, Running\\), min\\.\\.max 10\\.\\.20, after `));
  });

  it('rolls back: restores both bounds, and the replicas settle back', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(25);
    await target.apply(plan.operation);
    expect(arm.scale(KEY)).toEqual({ minReplicas: 25, maxReplicas: 25 });
    expect((await target.waitForRollout(plan.expect, soon(5_000), never)).passed).toBe(true);

    const undone = await target.apply(plan.undo);
    expect(undone.before.bounds).toEqual({ minReplicas: 25, maxReplicas: 25 });
    expect(undone.after.bounds).toEqual({ minReplicas: 2, maxReplicas: 20 });
    expect(patches(arm).at(-1)!.body).toEqual({ location: 'eastus', properties: { template: { scale: { minReplicas: 2, maxReplicas: 20 } } } });
    expect(arm.scale(KEY)).toEqual({ minReplicas: 2, maxReplicas: 20 });
    expect((await target.waitForRollout(plan.undoExpect, soon(5_000), never)).passed).toBe(true);
  });

  it('counts an app already as asked as applied, and sends nothing', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(6);
    await target.apply(plan.operation);
    const sent = patches(arm).length;
    const again = await target.apply(plan.operation);
    expect(again.after.bounds).toEqual({ minReplicas: 6, maxReplicas: 20 });
    expect(patches(arm)).toHaveLength(sent);
  });

  it('refuses when the app changed since the plan, and changes nothing', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    arm.setScale(KEY, { minReplicas: 4 });
    await expect(target.apply(plan.operation)).rejects.toThrow(
      'Container App rg-prod/api changed since the plan was made: its min..max replicas are 4..20, the plan expected 2..20. Nothing was changed; request again so the checks and approval see the current state',
    );
    expect(patches(arm)).toEqual([]);
    expect(arm.scale(KEY)).toEqual({ minReplicas: 4, maxReplicas: 20 });
  });

  it('refuses operations of other platforms', async () => {
    const { target } = await setup();
    await expect(target.apply({ type: 'set-replicas', replicas: 5 })).rejects.toThrow('a set-replicas operation is for another platform. Nothing was changed');
  });

  it('works the same when a scale change does not make a new revision', async () => {
    const { arm, target } = await setup({ server: { newRevisionOnScale: false } });
    const revision = latestRevision(arm);
    const plan = await target.plan(5);
    await target.apply(plan.operation);
    expect(latestRevision(arm)).toBe(revision);
    expect((await target.waitForRollout(plan.expect, soon(5_000), never)).passed).toBe(true);
  });
});

describe('reconcile reads only', () => {
  it('not-applied before, applied after, diverged when someone else moved it', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    const op = plan.operation;
    expect(await target.reconcile(op)).toMatchObject({ status: 'not-applied', state: { bounds: { minReplicas: 2, maxReplicas: 20 } } });
    await target.apply(op);
    expect(await target.reconcile(op)).toMatchObject({ status: 'applied', state: { bounds: { minReplicas: 10, maxReplicas: 20 } } });
    arm.setScale(KEY, { minReplicas: 7 });
    expect(await target.reconcile(op)).toEqual({ status: 'diverged', detail: 'Container App rg-prod/api has min..max replicas 7..20: neither 2..20 from before nor the requested change' });
    const writes = arm.requests.filter((r) => r.method !== 'GET');
    expect(writes).toHaveLength(1);
  });
});

describe('a long-running operation that does not succeed', () => {
  it('ends Failed: says what ARM said and what the app shows now', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    arm.failNextOperation({ code: 'ContainerAppProvisioningFailed', message: 'Failed to provision revision: quota of 100 cores exceeded in eastus.' });
    await expect(target.apply(plan.operation)).rejects.toThrow(
      'Azure accepted the change of Container App rg-prod/api min..max replicas 2..20 → 10..20, but its operation ended Failed: ContainerAppProvisioningFailed. Failed to provision revision: quota of 100 cores exceeded in eastus.. The app now has min..max replicas 2..20 (provisioningState Failed). Nothing else was changed',
    );
    expect(patches(arm)).toHaveLength(1);
    expect(await target.reconcile(plan.operation)).toMatchObject({ status: 'not-applied' });
  });

  it('does not finish in time: says it may still complete', async () => {
    const { arm, target } = await setup({ target: { timing: { callTimeoutMs: 2_000, updateTimeoutMs: 300, lroPollMs: 10, rolloutPollMs: 20 } } });
    arm.setLroPolls(100_000);
    const plan = await target.plan(10);
    await expect(target.apply(plan.operation)).rejects.toThrow(
      /^Azure accepted the change of Container App rg-prod\/api min\.\.max replicas 2\.\.20 → 10\.\.20, but its operation had not finished after 0\.3s; it may still complete\. The app now has min\.\.max replicas 10\.\.20 \(provisioningState InProgress\)\. Nothing else was changed$/,
    );
    expect(await target.reconcile(plan.operation)).toMatchObject({ status: 'applied' });
  });
  it('loses track of its operation: says the change may still complete', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    arm.failNext({ method: 'GET', path: /containerappOperationStatuses/, status: 500, times: 10 });
    await expect(target.apply(plan.operation)).rejects.toThrow(
      /^Azure accepted the change of Container App rg-prod\/api min\.\.max replicas 2\.\.20 → 10\.\.20, but the bot could not follow its operation: Azure answered 500 InternalServerError: .* \(still after 3 retries\); it may still complete\. The app now has min\.\.max replicas 10\.\.20 \(provisioningState InProgress\)\. Nothing else was changed$/,
    );
  });
});

describe('throttling', () => {
  it('a 429 with Retry-After is retried by the SDK, the wait capped', async () => {
    const { arm, target } = await setup();
    arm.failNext({ method: 'GET', path: /containerApps\/api$/, status: 429, retryAfter: 30, times: 2 });
    const started = Date.now();
    const plan = await target.plan(10);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(plan.operation).toMatchObject({ minReplicas: 10 });
    expect(arm.requests.filter((r) => r.path === APP_PATH).map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('a throttled PATCH is sent again and goes through', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    arm.failNext({ method: 'PATCH', status: 429, retryAfter: 1 });
    await target.apply(plan.operation);
    expect(patches(arm).map((r) => r.status)).toEqual([429, 202]);
    expect(arm.scale(KEY)).toEqual({ minReplicas: 10, maxReplicas: 20 });
  });

  it('gives up after its retries with a clear message', async () => {
    const { arm, target } = await setup();
    arm.failNext({ method: 'GET', status: 429, retryAfter: 1, times: 10 });
    await expect(target.plan(10)).rejects.toThrow(/^could not read Container App rg-prod\/api: Azure Resource Manager is throttling requests \(429 TooManyRequests: The request is being throttled.*\), still after 3 retries$/);
    expect(arm.requests).toHaveLength(4);
  });

  it('a throttled PATCH that never gets through changes nothing', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    arm.failNext({ method: 'PATCH', status: 429, retryAfter: 1, times: 10 });
    await expect(target.apply(plan.operation)).rejects.toThrow(/throttling requests \(429 TooManyRequests: .*\), still after 3 retries\. Azure refused the change, so nothing was changed$/);
    expect(arm.scale(KEY)).toEqual({ minReplicas: 2, maxReplicas: 20 });
  });
});

describe('credentials and other refusals', () => {
  it('401: Azure refused the credentials, with what to check', async () => {
    const { target } = await setup({ target: { credential: credential('stale-token') } });
    await expect(target.plan(10)).rejects.toThrow(
      'could not read Container App rg-prod/api: Azure refused the credentials (401 InvalidAuthenticationToken: The access token is invalid.); check AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET (or the managed or workload identity the bot runs as) and that this identity has the Contributor role on the app',
    );
  });

  it('403 on the PATCH: refused credentials, role Contributor, nothing changed', async () => {
    const { arm, target } = await setup();
    const plan = await target.plan(10);
    arm.failNext({ method: 'PATCH', status: 403 });
    const error = await target.apply(plan.operation).catch((e: Error) => e);
    expect(String(error)).toMatch(/could not change Container App rg-prod\/api min\.\.max replicas 2\.\.20 → 10\.\.20: Azure refused the credentials \(403 AuthorizationFailed: The client 'scalebot' .* does not have authorization to perform action 'Microsoft\.App\/containerApps\/write'/);
    expect(String(error)).toMatch(/give it the Contributor role on the app .*Azure refused the change, so nothing was changed$/);
    expect(arm.scale(KEY)).toEqual({ minReplicas: 2, maxReplicas: 20 });
  });

  it('no credentials at all: says how to provide them', async () => {
    const missing: TokenCredential = { getToken: async () => { throw new CredentialUnavailableError('EnvironmentCredential is unavailable. No underlying credential could be used.'); } };
    const { target } = await setup({ target: { credential: missing } });
    await expect(target.plan(10)).rejects.toThrow(/^could not read Container App rg-prod\/api: no Azure credentials were found \(EnvironmentCredential is unavailable\..*\); set AZURE_CLIENT_ID \/ AZURE_TENANT_ID \/ AZURE_CLIENT_SECRET/);
  });

  it('404: names what to check in the catalog', async () => {
    const { target } = await setup({ seed: { name: 'web' } });
    await expect(target.plan(10)).rejects.toThrow("could not read Container App rg-prod/api: Azure answered 404 ResourceNotFound: The Resource 'Microsoft.App/containerApps/api' under resource group 'rg-prod' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix (check subscription, resource-group and app in the catalog)");
  });

  it('a 500 is retried; a read that keeps failing changes nothing', async () => {
    const { arm, target } = await setup();
    arm.failNext({ method: 'GET', status: 500, times: 1 });
    await target.plan(10);
    const plan = await target.plan(10);
    arm.failNext({ method: 'GET', status: 500, times: 10 });
    await expect(target.apply(plan.operation)).rejects.toThrow(/^could not read Container App rg-prod\/api: Azure answered 500 InternalServerError: .*\(still after 3 retries\)\. Nothing was changed$/);
    expect(patches(arm)).toEqual([]);
  });
});

describe('silence', () => {
  it('a read with no answer times out', async () => {
    const { arm, target } = await setup({ target: { timing: { callTimeoutMs: 300, lroPollMs: 10, rolloutPollMs: 20 } } });
    arm.hangNext({ method: 'GET' });
    await expect(target.plan(10)).rejects.toThrow('could not read Container App rg-prod/api: no answer from Azure Resource Manager within 0.3s');
  });

  it('a PATCH with no answer: not known whether it arrived', async () => {
    const { arm, target } = await setup({ target: { timing: { callTimeoutMs: 300, updateTimeoutMs: 5_000, lroPollMs: 10, rolloutPollMs: 20 } } });
    const plan = await target.plan(10);
    arm.hangNext({ method: 'PATCH' });
    await expect(target.apply(plan.operation)).rejects.toThrow(
      'could not change Container App rg-prod/api min..max replicas 2..20 → 10..20: no answer from Azure Resource Manager within 0.3s. Azure never answered the PATCH, so it is not known whether it arrived: read the app (the run reconciles) before trying again. Nothing else was changed',
    );
  });
});

describe('waitForRollout', () => {
  it('stalled replicas: fails at the deadline with what is stuck', async () => {
    const { arm, target } = await setup();
    arm.setReplicaSpeed(0);
    const plan = await target.plan(10);
    await target.apply(plan.operation);
    const { passed, result } = await target.waitForRollout(plan.expect, soon(400), never);
    expect(passed).toBe(false);
    expect(result.ok).toBe(false);
    expect(result.summary).toMatch(new RegExp(`^stuck after \\d+ ?m?s: 0/≥10 running and ready in revision ${latestRevision(arm)} \\(Provisioned, Healthy, Running\\)$`));
  });

  it('a revision that fails to provision: fails at once with its error', async () => {
    const { arm, target } = await setup();
    arm.failNextRevision('Container api crashed: exit code 137 (OOMKilled)');
    const plan = await target.plan(10);
    await target.apply(plan.operation);
    const started = Date.now();
    const { passed, result } = await target.waitForRollout(plan.expect, soon(10_000), never);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(passed).toBe(false);
    expect(result.summary).toMatch(/^revision api--\w+ failed to provision: Container api crashed: exit code 137 \(OOMKilled\) \(0\/≥10 ready after /);
  });

  it('stops when the signal aborts, without a verdict', async () => {
    const { arm, target } = await setup();
    arm.setReplicaSpeed(0);
    const plan = await target.plan(10);
    await target.apply(plan.operation);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const { passed, result } = await target.waitForRollout(plan.expect, soon(60_000), abort.signal);
    expect(passed).toBe(false);
    expect(result).toMatchObject({ ok: undefined, summary: 'verification stopped (the bot is shutting down)' });
  });

  it('counts the app scaling above its floor as passed (atLeast)', async () => {
    const { arm, target } = await setup();
    arm.setDemand(KEY, 8);
    const plan = await target.plan(5);
    await target.apply(plan.operation);
    const { passed, result } = await target.waitForRollout(plan.expect, soon(5_000), never);
    expect(passed).toBe(true);
    expect(result.summary).toMatch(/^\d+\/≥5 replicas running and ready/);
  });
});

describe('azure.replicas probe', () => {
  it('running replicas, bounds and active revisions', async () => {
    const { arm, target } = await setup({ seed: { demand: 3 } });
    const r = await target.probe('azure.replicas', 10);
    expect(r).toMatchObject({ ok: true, value: 3, threshold: 2, values: { replicas: 3, min: 2, max: 20, revisions: 1 } });
    expect(r.summary).toBe(`3 running, min..max 2..20; latest revision ${latestRevision(arm)} Provisioned, Healthy, Running; 1 active revision`);
    expect(arm.requests.every((q) => q.method === 'GET')).toBe(true);
  });

  it('says when the run asks for more than maxReplicas', async () => {
    const { target } = await setup();
    const r = await target.probe('azure.replicas', 30);
    expect(r.details).toContain('the run asks for 30, above maxReplicas 20: the plan raises maxReplicas to 30');
  });

  it('refuses unknown probes and parameters', async () => {
    const { target } = await setup();
    await expect(target.probe('kubernetes.replicas', 3)).rejects.toThrow('unknown Azure Container Apps probe "kubernetes.replicas"; the Container App target answers azure.replicas');
    await expect(target.probe('azure.replicas', 3, { source: 'x' })).rejects.toThrow('azure.replicas takes no parameters (given: source)');
  });
});

