// Prometheus metrics (prom-client), served at GET /metrics in Socket Mode and HTTP mode alike.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  runsFinished: Counter<'status'>;
  activeRuns: Gauge<'status'>;
  stepDuration: Histogram<'kind'>;
  ackLatency: Histogram<'kind'>;
  slackErrors: Counter<'method' | 'error'>;
  slackRateLimited: Counter<'method'>;
  platformErrors: Counter<'platform' | 'code'>;
}

export function createMetrics(activeByStatus: () => Promise<Record<string, number>>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'scalebot_process_' });
  return {
    registry,
    runsFinished: new Counter({ name: 'scalebot_runs_finished_total', help: 'Runs that reached a final status, by status (counted by the replica that finished them)', labelNames: ['status'], registers: [registry] }),
    activeRuns: new Gauge({
      name: 'scalebot_runs_active',
      help: 'Runs not yet finished, by status (from the shared store)',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [status, count] of Object.entries(await activeByStatus().catch(() => ({})))) this.set({ status }, count);
      },
    }),
    stepDuration: new Histogram({
      name: 'scalebot_step_duration_seconds',
      help: 'How long run steps took: checks, execution, verification, approval wait',
      labelNames: ['kind'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: 'scalebot_ack_latency_seconds',
      help: 'Time from receiving a Slack request to acking it (Slack allows 3 s)',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3],
      registers: [registry],
    }),
    slackErrors: new Counter({ name: 'scalebot_slack_api_errors_total', help: 'Slack Web API calls that failed, by method and error', labelNames: ['method', 'error'], registers: [registry] }),
    slackRateLimited: new Counter({ name: 'scalebot_slack_rate_limited_total', help: 'Slack Web API answers 429 (rate limited), by method', labelNames: ['method'], registers: [registry] }),
    platformErrors: new Counter({ name: 'scalebot_platform_api_errors_total', help: 'Platform API calls that failed, by platform and status code', labelNames: ['platform', 'code'], registers: [registry] }),
  };
}
