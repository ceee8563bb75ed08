// Reading `docker compose ps --format json` in both shapes Compose v2 prints, and the pieces of the
// docker runner that need no process: the shown command line and what an error may quote.
import { describe, expect, it } from 'vitest';
import { countContainers, describeContainer, parsePs, problemSummary } from '../../../src/adapters/compose/compose-ps.ts';
import { commandLine, lastLines, scrubSecrets } from '../../../src/adapters/compose/docker-cli.ts';

// Compose ≥ 2.21: one object per line, Labels as one string (as docker ps prints them).
const LINES = [
  '{"Command":"\\"/entrypoint.sh\\"","ExitCode":0,"Health":"healthy","ID":"d2763e024a10","Image":"worker:1","Labels":"com.docker.compose.container-number=1,com.docker.compose.oneoff=False,com.docker.compose.service=pdf-worker","Name":"up-pdf-worker-1","Project":"up","Service":"pdf-worker","State":"running","Status":"Up 2 minutes (healthy)"}',
  '{"ExitCode":0,"Health":"unhealthy","Name":"up-pdf-worker-10","Service":"pdf-worker","State":"running","Labels":"com.docker.compose.oneoff=False"}',
  '{"ExitCode":137,"Health":"","Name":"up-pdf-worker-2","Service":"pdf-worker","State":"exited","Labels":"com.docker.compose.oneoff=False"}',
  '{"ExitCode":0,"Health":"","Name":"up-pdf-worker-run-3f2a9c1b7d4e","Service":"pdf-worker","State":"running","Labels":"com.docker.compose.oneoff=True"}',
  '{"ExitCode":0,"Health":"starting","Name":"up-pdf-worker-3","Service":"pdf-worker","State":"running","Labels":""}',
].join('\n');

// Compose < 2.21: one JSON array; no Labels (the documented example).
const ARRAY = JSON.stringify([
  { ID: '1553b0236cf4', Name: 'up-pdf-worker-1', Command: 'x', Project: 'up', Service: 'pdf-worker', State: 'running', Health: '', ExitCode: 0, Publishers: null },
  { ID: 'f02a4efaabb6', Name: 'up-pdf-worker-2', Command: 'x', Project: 'up', Service: 'pdf-worker', State: 'created', Health: '', ExitCode: 0, Publishers: [] },
  { ID: 'aaaaaaaaaaaa', Name: 'up-backend-1', Service: 'backend', State: 'running', Health: '', ExitCode: 0 },
  { ID: 'bbbbbbbbbbbb', Name: 'up-pdf-worker-run-0123456789ab', Service: 'pdf-worker', State: 'exited', Health: '', ExitCode: 0 },
]);

describe('parsePs', () => {
  it('reads JSON Lines, leaves one-off containers out, sorts by name numerically', () => {
    const cs = parsePs(LINES, 'pdf-worker');
    expect(cs.map((c) => c.name)).toEqual(['up-pdf-worker-1', 'up-pdf-worker-2', 'up-pdf-worker-3', 'up-pdf-worker-10']);
    expect(cs[1]).toEqual({ name: 'up-pdf-worker-2', service: 'pdf-worker', state: 'exited', health: '', exitCode: 137 });
    expect(countContainers(cs)).toEqual({ containers: 4, running: 3, healthy: 1, unhealthy: 1, exited: 1 });
  });

  it('reads the JSON array of older versions; keeps only the service asked for', () => {
    const cs = parsePs(ARRAY, 'pdf-worker');
    expect(cs.map((c) => `${c.name} ${c.state}`)).toEqual(['up-pdf-worker-1 running', 'up-pdf-worker-2 created']);
    expect(countContainers(cs)).toEqual({ containers: 2, running: 1, healthy: 1, unhealthy: 0, exited: 0 });
  });

  it('nothing (2.21+) and [] (before) both mean no containers', () => {
    expect(parsePs('', 'web')).toEqual([]);
    expect(parsePs('\n', 'web')).toEqual([]);
    expect(parsePs('[]\n', 'web')).toEqual([]);
  });

  it('treats Health "none" as no healthcheck, and "dead" as exited', () => {
    const cs = parsePs('{"Name":"a-web-1","Service":"web","State":"running","Health":"none"}\n{"Name":"a-web-2","Service":"web","State":"dead","ExitCode":"1"}', 'web');
    expect(countContainers(cs)).toEqual({ containers: 2, running: 1, healthy: 1, unhealthy: 0, exited: 1 });
    expect(cs[1]!.exitCode).toBe(1);
  });

  it('refuses what is not ps JSON, saying what it saw', () => {
    expect(() => parsePs('NAME IMAGE STATUS\nup-web-1 nginx Up', 'web')).toThrow(/could not read the output of docker compose ps as JSON .*it began: "NAME IMAGE/);
    expect(() => parsePs('{"Name":"x"}', 'web')).toThrow(/container x has no State/);
    expect(() => parsePs('[1]', 'web')).toThrow(/not an object/);
  });
});

describe('what people read about containers', () => {
  const cs = parsePs(LINES, 'pdf-worker');

  it('one line per container', () => {
    expect(cs.map(describeContainer)).toEqual([
      'up-pdf-worker-1: running, healthy',
      'up-pdf-worker-2: exited (exit code 137)',
      'up-pdf-worker-3: running, health starting',
      'up-pdf-worker-10: running, unhealthy',
    ]);
  });

  it('a summary of what is wrong, naming at most five of each', () => {
    expect(problemSummary(cs)).toBe('1 unhealthy (up-pdf-worker-10), 1 exited (up-pdf-worker-2 exit code 137), 1 starting (up-pdf-worker-3)');
    const many = Array.from({ length: 8 }, (_, k) => ({ name: `w-${k + 1}`, service: 'w', state: 'running', health: 'unhealthy', exitCode: 0 }));
    expect(problemSummary(many)).toBe('8 unhealthy (w-1, w-2, w-3, w-4, w-5 and 3 more)');
    expect(problemSummary([{ name: 'w-1', service: 'w', state: 'restarting', health: '', exitCode: 0 }])).toBe('1 not running (w-1 restarting)');
    expect(problemSummary([])).toBe('');
  });
});

describe('the docker runner’s text', () => {
  it('shows the command as a shell would need it quoted (it never goes through one)', () => {
    expect(commandLine('docker', ['compose', '--project-directory', '/srv/app', 'ps', '--format', 'json', 'web'])).toBe('docker compose --project-directory /srv/app ps --format json web');
    expect(commandLine('docker', ['--project-directory', "/srv/it's here", '', 'a;b', '$(x)'])).toBe(`docker --project-directory '/srv/it'\\''s here' '' 'a;b' '$(x)'`);
  });

  it('quotes the last five non-empty lines of stderr, without colours, each at most 300 characters', () => {
    const stderr = `one\n\n\u001b[31mtwo\u001b[0m\nthree\r\nfour\nfive\nsix\n${'x'.repeat(400)}\n`;
    const lines = lastLines(stderr);
    expect(lines.slice(0, 4)).toEqual(['three', 'four', 'five', 'six']);
    expect(lines[4]).toBe(`${'x'.repeat(300)}…`);
    expect(lastLines('\u001b[31mtwo\u001b[0m')).toEqual(['two']);
  });

  it('scrubs the values of secret-looking variables, not other values', () => {
    const env = { SLACK_BOT_TOKEN: 'xoxb-123456', DB_PASSWORD: 'hunter22', API_KEY: 'k-abcdef', HOME: '/root/home', SHORT_TOKEN: 'abc' };
    expect(scrubSecrets('xoxb-123456 hunter22 k-abcdef /root/home abc', env)).toBe('*** *** *** /root/home abc');
  });
});
