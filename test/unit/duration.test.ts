import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/workflows/duration.ts';

describe('durations', () => {
  it('parses the units runbooks use', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('500ms')).toBe(500);
  });
  it('refuses anything else', () => {
    for (const bad of ['', '10', 'm', '-1m', '1.5m', '10 minutes', '1e3s']) expect(parseDuration(bad)).toBeUndefined();
  });
  it('formats for people', () => {
    expect(formatDuration(45_000)).toBe('45s');
    expect(formatDuration(125_000)).toBe('2m 5s');
    expect(formatDuration(3_900_000)).toBe('1h 5m');
  });
});
