import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { logSubjects, readFileAt } from '../../sandbox/git/repo.ts';
import { buildImageRootfs, type ImageRootfs } from '../../sandbox/image/rootfs.ts';
import { inImage, podRun, runInImage } from '../harness/image.ts';
import { rollBackWithWriteBack } from '../support/write-back.ts';

// No container runtime and no registry here, so the image is proven the other way: its
// filesystem is built from the Dockerfile with Debian's tools (sandbox/image/rootfs.ts) and run
// as deploy/deployment.yaml runs the container (test/harness/image.ts). What this does not
// prove is in docs/testing.md, "The image, without a container runtime".

describe('the image, without a container runtime', () => {
  let image: ImageRootfs;
  beforeAll(async () => {
    image = await buildImageRootfs();
  }, 600_000);

  const sh = (script: string) => runInImage(image, ['/bin/sh', '-c', script]);

  it('holds what the Dockerfile installs and copies, and runs as the pod says', async () => {
    const { spec } = image;
    const pod = podRun(image);
    // The Deployment's runAsUser is the image's USER: the Dockerfile and deploy/ agree.
    expect(pod.uid).toBe(spec.user.uid);

    for (const pkg of spec.packages) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
      const r = await runInImage(image, ['dpkg-query', '-W', '-f', '${Status}', pkg]);
      expect(r.stdout, `${pkg}: ${r.stderr}`).toBe('install ok installed');
    }
    // What the runtime stage installs them for: write-back runs git, and https needs the CA bundle.
    const git = await runInImage(image, ['git', '--version']);
    expect(git.stdout).toMatch(/^git version \d+\.\d+/);
    expect((await sh('test -s /etc/ssl/certs/ca-certificates.crt')).code).toBe(0);

    // `node` on the PATH is the Node the Dockerfile's FROM names, where the node image has it.
    const node = await sh('command -v node && node --version');
    expect(node.stdout.split('\n').slice(0, 2)).toEqual([
      '/usr/local/bin/node',
      expect.stringMatching(new RegExp(`^v${spec.nodeMajor}\\.`)),
    ]);
    // The ENTRYPOINT, as the image would run it: the bundle where COPY puts it, loadable by the pod's user.
    const version = await runInImage(image, [...spec.entrypoint, 'version']);
    expect(version.stdout, version.stderr).toMatch(/^sluice \S+/);
    expect(spec.entrypoint).toContain(spec.bundlePath);

    // The pod's user, group, no capabilities, no privilege escalation, in the image's WORKDIR.
    const self = await sh(
      'id -u; id -g; id -un; pwd; grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status',
    );
    expect(self.stdout.trim().split('\n')).toEqual([
      String(spec.user.uid),
      String(spec.user.gid),
      spec.user.name,
      spec.workdir,
      'CapEff:\t0000000000000000',
      'CapBnd:\t0000000000000000',
      'NoNewPrivs:\t1',
    ]);
    const home = await sh('echo ~');
    expect(home.stdout.trim()).toBe(spec.user.home);

    // Read-only root (the user's home too); the Deployment's emptyDir at /tmp is the one writable place.
    for (const path of ['/probe', `${spec.workdir}/probe`, `${spec.user.home}/probe`]) {
      const write = await sh(`echo x > ${path}`);
      expect(write.code, path).not.toBe(0);
      expect(write.stderr).toMatch(/Read-only file system/);
    }
    expect(pod.writable.map((w) => w.path)).toEqual(['/tmp']);
    const tmp = await sh('echo written > /tmp/probe && cat /tmp/probe');
    expect(tmp).toMatchObject({ code: 0, stdout: 'written\n' });
  });

  it('rolls a bad canary back and commits the revert to git from inside the image', {
    timeout: 300_000,
  }, async () => {
    // As the Deployment runs it: leader election on, in the namespace its fieldRef names.
    const lease = `sluice-image-${randomBytes(4).toString('hex')}`;
    const { ns, bare, v1, webStable, webDone, apiDone, controller } = await rollBackWithWriteBack({
      launcher: inImage(image),
      args: ['--leader-elect', '--lease-name', lease],
    });

    // The controller that did it ran as the pod's user (its real uid on this host, not root
    // renamed), as the first process of its own pid namespace.
    const status = readFileSync(`/proc/${await controller.pid()}/status`, 'utf8');
    const uid = image.spec.user.uid;
    expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    expect(status).toMatch(/^NSpid:\s+\d+\s+1$/m);
    expect(controller.lines().some((l) => l.msg === 'became leader')).toBe(true);

    const failedRevision = webDone.status?.currentRevision;
    expect(webDone.status?.writeBack).toMatchObject({ revision: failedRevision, state: 'Committed' });
    expect(readFileAt(bare, 'deploy/web.yaml')).toBe(v1);
    expect(logSubjects(bare).slice(0, 2)).toEqual([
      `sluice: roll back ${ns}/web from ${failedRevision} to ${webStable.status?.stableRevision}`,
      'web v2',
    ]);
    expect(apiDone.status?.writeBack?.state).toBe('Failed');
  });
});
