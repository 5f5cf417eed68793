import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DockerfileShapeError, parseDockerfile } from '../../../sandbox/image/dockerfile.ts';
import { ROOT } from '../../support/fixtures.ts';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** The project's Dockerfile with one line swapped: the shapes the builder must refuse. */
const changed = (from: RegExp, to: string) => {
  const text = dockerfile.replace(from, to);
  expect(text, `${from} is no longer in the Dockerfile`).not.toBe(dockerfile);
  return text;
};

describe('the Dockerfile as the image builder reads it', () => {
  it('reads the runtime stage: base, packages, user, paths and entrypoint', () => {
    const spec = parseDockerfile(dockerfile);
    expect(spec).toMatchObject({
      suite: 'bookworm',
      slim: true,
      installRecommends: false,
      user: { name: 'node', uid: 1000, gid: 1000, home: '/home/node' },
      bundlePath: `${spec.workdir}/sluice.mjs`,
      env: { NODE_ENV: 'production' },
    });
    expect(spec.from).toBe(`node:${spec.nodeMajor}-bookworm-slim`);
    expect(spec.packages).toEqual(expect.arrayContaining(['git', 'ca-certificates']));
    expect(spec.entrypoint).toEqual(['node', spec.bundlePath]);
    expect(spec.cmd).toEqual(['controller']);
  });

  it('follows continued lines and keeps Recommends when the install does not refuse them', () => {
    const spec = parseDockerfile(changed(/--no-install-recommends /, ''));
    expect(spec.installRecommends).toBe(true);
    expect(spec.packages).toEqual(parseDockerfile(dockerfile).packages);
  });

  it.each([
    [
      'another base',
      /FROM node:(\d+)-bookworm-slim/,
      'FROM gcr.io/distroless/nodejs$1-debian12',
      /official node/,
    ],
    ['a second RUN', /USER node/, 'RUN chmod 0700 /app\nUSER node', /only one RUN/],
    [
      'a command beside apt-get',
      /&& rm -rf/,
      '&& curl -o /x https://example.com && rm -rf',
      /curl .* is not an apt-get install/,
    ],
    ['a user the base lacks', /USER node/, 'USER sluice', /no user sluice/],
    ['no user at all', /USER node\n/, '', /sets no USER/],
    [
      'a shell-form entrypoint',
      /ENTRYPOINT .*/,
      'ENTRYPOINT node /app/sluice.mjs',
      /exec \(JSON array\) form/,
    ],
    [
      'a file the build does not write',
      /\/app\/dist\/sluice\.mjs/,
      '/app/dist/other.mjs',
      /dist\/sluice\.mjs/,
    ],
    ['an instruction it does not know', /EXPOSE/, 'VOLUME /data\nEXPOSE', /VOLUME is not understood/],
    ['a variable in ENV', /NODE_ENV=production/, 'NODE_ENV=$MODE', /KEY=value/],
  ])('refuses %s, naming the line', (_, from, to, message) => {
    const parse = () => parseDockerfile(changed(from, to));
    expect(parse).toThrow(DockerfileShapeError);
    expect(parse).toThrow(message);
    expect(parse).toThrow(/Dockerfile line \d+/);
  });
});
