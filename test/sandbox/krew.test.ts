// The release's krew manifest as krew itself reads it: validate-krew-manifest's checks, then
// `krew install --manifest --archive` (the digest checked against the archive, the plugin linked
// into $KREW_ROOT/bin), and kubectl finding it there and running `kubectl sluice` against the
// sandbox. krew is built from its Go module (sandbox/build.sh krew, ~40 s once).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRelease } from '../../release/build.ts';
import { ensureKrew } from '../../sandbox/build.ts';
import { sandbox } from '../harness/env.ts';

const VERSION = '0.3.0-rc.1';
const tmp = mkdtempSync(join(tmpdir(), 'sluice-krew-'));
const out = join(tmp, 'release');
const krewRoot = join(tmp, 'krew');
let krewBin: string;

const env = () => ({
  ...process.env,
  KREW_ROOT: krewRoot,
  PATH: `${join(krewRoot, 'bin')}:${krewBin}:${dirname(process.execPath)}:${process.env.PATH}`,
  KUBECONFIG: sandbox().KUBECONFIG,
});

beforeAll(async () => {
  krewBin = await ensureKrew();
  await buildRelease({ version: VERSION, out });
}, 600_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the krew plugin', () => {
  it("passes krew's own manifest validation", () => {
    const log = execFileSync(
      join(krewBin, 'validate-krew-manifest'),
      ['-manifest', join(out, 'sluice.yaml'), '-skip-install'],
      { env: env(), encoding: 'utf8', stdio: 'pipe' },
    );
    expect(log).toBe('');
  });

  it('installs from the archive with krew, and kubectl runs it as kubectl sluice', () => {
    execFileSync(
      join(krewBin, 'krew'),
      [
        'install',
        `--manifest=${join(out, 'sluice.yaml')}`,
        `--archive=${join(out, `kubectl-sluice-${VERSION}.tar.gz`)}`,
      ],
      { env: env(), stdio: 'pipe' },
    );
    expect(readlinkSync(join(krewRoot, 'bin', 'kubectl-sluice'))).toBe(
      join(krewRoot, 'store', 'sluice', `v${VERSION}`, 'kubectl-sluice'),
    );
    const plugins = execFileSync(sandbox().KUBECTL, ['plugin', 'list', '--name-only'], {
      env: env(),
      encoding: 'utf8',
    });
    expect(plugins.split('\n')).toContain('kubectl-sluice');
    const version = execFileSync(sandbox().KUBECTL, ['sluice', 'version'], { env: env(), encoding: 'utf8' });
    expect(version).toMatch(new RegExp(`^client: ${VERSION.replaceAll('.', '\\.')} \\(`));
    const listed = execFileSync(sandbox().KUBECTL, ['sluice', 'list', '-A', '-o', 'json'], {
      env: env(),
      encoding: 'utf8',
    });
    expect(JSON.parse(listed)).toMatchObject({ kind: 'List' });
  });

  it('refuses an archive whose digest is not the one the manifest names', () => {
    const other = join(tmp, 'other.tar.gz');
    execFileSync('bash', [
      '-c',
      `cp '${join(out, `kubectl-sluice-${VERSION}.tar.gz`)}' '${other}' && echo x >> '${other}'`,
    ]);
    expect(() =>
      execFileSync(
        join(krewBin, 'krew'),
        ['install', `--manifest=${join(out, 'sluice.yaml')}`, `--archive=${other}`],
        { env: { ...env(), KREW_ROOT: join(tmp, 'krew-2') }, stdio: 'pipe' },
      ),
    ).toThrow(/checksum does not match|sha256/i);
  });
});
