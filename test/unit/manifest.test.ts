import { describe, expect, it } from 'vitest';
import { flagsFor } from '../../src/batch/job.js';
import { parseManifest } from '../../src/batch/manifest.js';

const parse = (text: string) => parseManifest('/srv/m.yaml', text);

describe('batch manifest', () => {
  it('merges defaults into each entry, resolves paths beside the manifest, and names copy outputs', () => {
    const jobs = parse(`defaults:
  output-dir: /srv/kvm
  bridges: { xenbr0: br0 }
  memory: 2048
images:
  - image: xen/web01.raw
    xen-config: /etc/xen/web01.cfg
    bridges: { xenbr1: "ovs:br-int" }
  - image: /data/db01.img
    mode: in-place
  - mail.raw
`);
    expect(jobs.map((j) => [j.image, j.mode, j.output, j.memory, j.line])).toEqual([
      ['/srv/xen/web01.raw', 'copy', '/srv/kvm/web01.raw', 2048, 6],
      ['/data/db01.img', 'in-place', undefined, 2048, 9],
      ['/srv/mail.raw', 'copy', '/srv/kvm/mail.raw', 2048, 11],
    ]);
    expect(jobs[0]?.bridges).toEqual({ xenbr0: 'br0', xenbr1: 'ovs:br-int' });
    expect(flagsFor(jobs[0] as (typeof jobs)[0], false)).toMatchObject({
      json: true,
      dryRun: false,
      yes: true,
      inPlace: false,
      output: '/srv/kvm/web01.raw',
      outputFormat: 'raw',
      xenConfig: '/etc/xen/web01.cfg',
      bridge: ['xenbr0=br0', 'xenbr1=ovs:br-int'],
      memory: 2048,
    });
    expect(flagsFor(jobs[1] as (typeof jobs)[1], false)).toMatchObject({ inPlace: true, output: undefined });
  });

  it('takes guests from a Xen host (source: ssh://), copied into output-dir and converted there, defined where asked', () => {
    const jobs = parse(`defaults:
  output-dir: kvm
  ssh-config: ssh_config
  define: true
  connect: qemu:///system
images:
  - source: ssh://root@dom0/web01
  - source: ssh://dom0:2222//etc/xen/db01.cfg
    shutdown: true
    bandwidth: 20M
    define: false
`);
    expect(jobs.map((j) => [j.image, j.source, j.mode, j.output, j.sshConfig, j.shutdown, j.define])).toEqual(
      [
        [
          'ssh://root@dom0/web01',
          'ssh://root@dom0/web01',
          'in-place',
          '/srv/kvm',
          '/srv/ssh_config',
          false,
          true,
        ],
        [
          'ssh://dom0:2222//etc/xen/db01.cfg',
          'ssh://dom0:2222//etc/xen/db01.cfg',
          'in-place',
          '/srv/kvm',
          '/srv/ssh_config',
          true,
          false,
        ],
      ],
    );
    expect(jobs[1]?.bandwidth).toBe('20M');
    expect(flagsFor(jobs[0] as (typeof jobs)[0], false)).toMatchObject({
      define: true,
      connect: 'qemu:///system',
    });
    // A review defines nothing.
    expect(flagsFor(jobs[0] as (typeof jobs)[0], true)).toMatchObject({ define: false });
  });

  it('refuses a source entry that is not ssh://, has an image too, or has nowhere to copy to', () => {
    expect(() => parse('images:\n  - source: http://dom0/web01\n    output-dir: /kvm\n')).toThrow(
      /m\.yaml:2:5: http:\/\/dom0\/web01: not an ssh:\/\/ source/,
    );
    expect(() =>
      parse('images:\n  - source: ssh://dom0/web01\n    image: a.raw\n    output-dir: /kvm\n'),
    ).toThrow(/image: PATH or source: ssh:\/\/\.\.\., not both/);
    expect(() => parse('images:\n  - source: ssh://dom0/web01\n')).toThrow(
      /a source entry needs output-dir: DIR/,
    );
  });

  it("carries kernel packages, the kernel, a partitionless guest's disks, boot mode and isolation to migrate", () => {
    const [job] = parse(`defaults:
  kernel-packages: [kernels/linux-image-6.1.0-56-cloud-amd64.deb]
images:
  - image: xen/disk.img
    output: kvm/web03.raw
    kernel: 6.1.0-56-cloud-amd64
    disks: { xvda1: xen/swap.img }
    boot: guest
    isolation: vm
`);
    expect(job && flagsFor(job, true)).toMatchObject({
      dryRun: true,
      yes: false,
      output: '/srv/kvm/web03.raw',
      outputFormat: 'raw',
      kernelPackage: ['/srv/kernels/linux-image-6.1.0-56-cloud-amd64.deb'],
      kernel: '6.1.0-56-cloud-amd64',
      disk: ['xvda1=/srv/xen/swap.img'],
      boot: 'guest',
      isolation: 'vm',
      verify: false,
    });
  });

  const errors: [string, string, RegExp][] = [
    [
      'kernel packages that are not a list of paths',
      'images:\n  - image: a.raw\n    mode: in-place\n    kernel-packages: k.deb\n',
      /^\/srv\/m\.yaml:4:22: kernel-packages: expected a list of paths$/,
    ],
    [
      'an unknown boot mode',
      'images:\n  - image: a.raw\n    mode: in-place\n    boot: pygrub\n',
      /^\/srv\/m\.yaml:2:5: boot: expected guest or direct, not pygrub$/,
    ],
    [
      'an unknown isolation mode',
      'images:\n  - image: a.raw\n    mode: in-place\n    isolation: chroot\n',
      /^\/srv\/m\.yaml:2:5: isolation: expected sandbox or vm, not chroot$/,
    ],
    [
      'an unknown setting',
      'images:\n  - image: a.raw\n    memroy: 512\n',
      /^\/srv\/m\.yaml:3:5: unknown setting 'memroy'/,
    ],
    [
      'a wrong type',
      'images:\n  - image: a.raw\n    mode: in-place\n    vcpus: two\n',
      /^\/srv\/m\.yaml:4:12: vcpus: expected a number$/,
    ],
    [
      'an image listed twice',
      'defaults: { mode: in-place }\nimages:\n  - a.raw\n  - ./a.raw\n',
      /^\/srv\/m\.yaml:4:5: \.\/a\.raw is listed twice \(lines 3 and 4\)/,
    ],
    [
      'copy mode without an output',
      'images:\n  - image: a.raw\n',
      /^\/srv\/m\.yaml:2:5: copy mode needs output: PATH or output-dir: DIR/,
    ],
    [
      'two images writing one output',
      'images:\n  - { image: a.raw, output: /x.raw }\n  - { image: b.raw, output: /x.raw }\n',
      /^\/srv\/m\.yaml:3:5: \/x\.raw is also the output of line 2/,
    ],
    ['no images', 'defaults: { mode: in-place }\n', /^\/srv\/m\.yaml:1:1: images: expected a list/],
    ['broken YAML', 'images:\n  - image: [a.raw\n', /^\/srv\/m\.yaml:\d+:\d+: not valid YAML/],
    ['an unknown section', 'image:\n  - a.raw\n', /^\/srv\/m\.yaml:1:1: unknown section 'image'/],
  ];
  for (const [what, text, message] of errors) {
    it(`refuses ${what}, pointing at the line`, () => {
      expect(() => parse(text)).toThrow(message);
    });
  }
});
