// The local ARM server on the wire (plain fetch): what the adapter's tests rely on it to do as ARM does.
import { afterEach, describe, expect, it } from 'vitest';
import { startArmServer, type ArmServer } from '../../servers/arm-server.ts';

const KEY = { subscription: 'sub-1', resourceGroup: 'rg-prod', name: 'api' };
const APP = '/subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.App/containerApps/api';
const V = 'api-version=2025-07-01';
const servers: ArmServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup() {
  const arm = await startArmServer({ tickMs: 10, token: 't', lroPolls: 2 });
  servers.push(arm);
  arm.addApp({ ...KEY, minReplicas: 2, maxReplicas: 20 });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${arm.url}${path}`, { method, headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  return { arm, call };
}

describe('ARM test server', () => {
  it('needs an api-version and the bearer token', async () => {
    const { arm, call } = await setup();
    expect(await call('GET', APP)).toMatchObject({ status: 400, body: { error: { code: 'MissingApiVersionParameter' } } });
    const res = await fetch(`${arm.url}${APP}?${V}`);
    expect(res.status).toBe(401);
  });

  it('PATCH: a JSON merge patch, 202 with Azure-AsyncOperation and Location, 409 while it runs, then Succeeded', async () => {
    const { arm, call } = await setup();
    const before = await call('GET', `${APP}?${V}`);
    const patched = await call('PATCH', `${APP}?${V}`, { location: 'East US', properties: { template: { scale: { minReplicas: 5, cooldownPeriod: null } } } });
    expect(patched.status).toBe(202);
    const status = new URL(patched.headers.get('azure-asyncoperation')!);
    const result = new URL(patched.headers.get('location')!);
    expect(status.pathname).toMatch(/^\/subscriptions\/sub-1\/providers\/Microsoft\.App\/locations\/eastus\/containerappOperationStatuses\/[0-9a-f-]{36}$/);
    expect(result.pathname).toMatch(/containerappOperationResults\/[0-9a-f-]{36}$/);
    expect(await call('PATCH', `${APP}?${V}`, { properties: { template: { scale: { minReplicas: 6 } } } })).toMatchObject({ status: 409, body: { error: { code: 'ContainerAppOperationInProgress' } } });
    expect(await call('GET', status.pathname + status.search)).toMatchObject({ status: 200, body: { status: 'InProgress' } });
    expect(await call('GET', result.pathname + result.search)).toMatchObject({ status: 202 });
    expect(await call('GET', status.pathname + status.search)).toMatchObject({ status: 200, body: { status: 'Succeeded' } });
    const after = await call('GET', result.pathname + result.search);
    expect(after.status).toBe(200);
    const t = (b: typeof after) => (b.body!.properties as { template: { containers: unknown; scale: Record<string, unknown> } }).template;
    expect(t(after).containers).toEqual(t(before).containers);
    expect(t(after).scale).toEqual({ minReplicas: 5, maxReplicas: 20, pollingInterval: 30, rules: t(before).scale.rules });
    expect(arm.revisions(KEY)).toHaveLength(2);
  });

  it('refuses another location and bounds that do not fit', async () => {
    const { call } = await setup();
    expect(await call('PATCH', `${APP}?${V}`, { location: 'westeurope', properties: { template: { scale: { minReplicas: 5 } } } })).toMatchObject({ status: 400, body: { error: { code: 'LocationNotMatching' } } });
    expect(await call('PATCH', `${APP}?${V}`, { properties: { template: { scale: { minReplicas: 30 } } } })).toMatchObject({ status: 400, body: { error: { code: 'ContainerAppInvalidScaleSettings' } } });
  });

  it('a failed operation reports ARM\'s error and restores the app', async () => {
    const { arm, call } = await setup();
    arm.failNextOperation({ code: 'ContainerAppProvisioningFailed', message: 'quota exceeded' });
    const patched = await call('PATCH', `${APP}?${V}`, { properties: { template: { scale: { minReplicas: 5 } } } });
    const status = new URL(patched.headers.get('azure-asyncoperation')!);
    const polls = [];
    for (let i = 0; i < 3; i++) polls.push((await call('GET', status.pathname + status.search)).body);
    expect(polls.map((p) => p?.status)).toEqual(['InProgress', 'InProgress', 'Failed']);
    expect(polls[2]).toMatchObject({ error: { code: 'ContainerAppProvisioningFailed', message: 'quota exceeded' } });
    expect(arm.scale(KEY)).toEqual({ minReplicas: 2, maxReplicas: 20 });
    expect(arm.app(KEY).properties).toMatchObject({ provisioningState: 'Failed' });
  });

  it('injected failures: status, ARM error body, Retry-After, then normal again', async () => {
    const { call, arm } = await setup();
    arm.failNext({ status: 429, retryAfter: 7 });
    const throttled = await call('GET', `${APP}?${V}`);
    expect(throttled).toMatchObject({ status: 429, body: { error: { code: 'TooManyRequests' } } });
    expect(throttled.headers.get('retry-after')).toBe('7');
    expect((await call('GET', `${APP}?${V}`)).status).toBe(200);
    expect(arm.requests.map((r) => r.status)).toEqual([429, 200]);
  });
});
