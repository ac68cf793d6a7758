/**
 * Bad input, as operators hand it over: each case must end with one clear line, a non-zero exit
 * code, no stack trace, the file byte-identical, and nothing left mounted, attached or in /tmp.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { editGuest } from '../helpers/guest-tree.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';

let dir: string;
const MiB = 1024 * 1024;

async function sh(script: string): Promise<void> {
  await execa('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir });
}

/** A partitioned image whose single partition holds what `mkfs` makes of it, plus files. */
async function partitioned(
  name: string,
  type: string,
  mkfs: string,
  files: Record<string, string> = {},
): Promise<string> {
  const image = join(dir, name);
  await sh(
    `truncate -s 64M ${name} && printf 'label: dos\\nstart=2048, type=${type}\\n' | sfdisk -q ${name}`,
  );
  if (mkfs) {
    await sh(`truncate -s 63M ${name}.part && ${mkfs} ${name}.part >/dev/null 2>&1`);
    if (Object.keys(files).length > 0) {
      const tree = join(dir, `${name}.tree`);
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(tree, path, '..'), { recursive: true });
        writeFileSync(join(tree, path), text);
      }
      await sh(
        `rm ${name}.part && truncate -s 63M ${name}.part && mkfs.ext4 -q -d ${name}.tree ${name}.part`,
      );
    }
    await sh(`dd if=${name}.part of=${name} bs=1M seek=1 conv=notrunc status=none && rm ${name}.part`);
  }
  return image;
}

beforeAll(async () => {
  // Built here, under the hook's time limit, not by the first test that needs it.
  await ensureFixture('debian12-xen-pv');
  dir = mkdtempSync(join(tmpdir(), 'e2e-bad-input-'));
});

afterAll(async () => {
  await execa('chattr', ['-i', join(dir, 'immutable.raw')], { reject: false });
  rmSync(dir, { recursive: true, force: true });
});

interface Case {
  name: string;
  make: () => Promise<string>;
  args?: string[];
  message: RegExp;
  exitCode: number;
}

const cases: Case[] = [
  {
    name: 'a missing file',
    make: async () => join(dir, 'nope.raw'),
    message: /nope\.raw: no such file/,
    exitCode: 1,
  },
  {
    name: 'a directory',
    make: async () => {
      mkdirSync(join(dir, 'adir'), { recursive: true });
      return join(dir, 'adir');
    },
    message: /adir is a directory/,
    exitCode: 1,
  },
  {
    name: 'a file too small to be a disk',
    make: async () => {
      writeFileSync(join(dir, 'tiny.raw'), 'hello\n');
      return join(dir, 'tiny.raw');
    },
    message: /tiny\.raw is too small \(6 bytes\)/,
    exitCode: 1,
  },
  {
    name: 'random bytes',
    make: async () => {
      writeFileSync(join(dir, 'noise.raw'), randomBytes(4 * MiB));
      return join(dir, 'noise.raw');
    },
    message: /noise\.raw is not a disk image: it has no partition table and no filesystem/,
    exitCode: 1,
  },
  {
    name: 'a bare filesystem (no partition table) that holds no guest',
    make: async () => {
      await sh('truncate -s 32M bare.img && mkfs.ext4 -q bare.img');
      return join(dir, 'bare.img');
    },
    message:
      /bare\.img holds a bare ext4 filesystem with no \/etc\/fstab: not a guest's root filesystem; give the image that holds \/etc\/fstab/,
    exitCode: 1,
  },
  {
    name: 'a qcow2 image holding no partition table',
    make: async () => {
      await sh('qemu-img create -q -f qcow2 empty.qcow2 1G');
      return join(dir, 'empty.qcow2');
    },
    message: /empty\.qcow2 is not a disk image: it has no partition table and no filesystem/,
    exitCode: 1,
  },
  {
    name: 'a partition table with swap only',
    make: () => partitioned('swaponly.raw', '82', 'mkswap'),
    message: /swaponly\.raw has a partition table but no partition that can hold a Linux filesystem/,
    exitCode: 1,
  },
  {
    name: 'a partition holding a FAT filesystem',
    make: () => partitioned('fat.raw', 'c', 'mkfs.vfat'),
    message: /fat\.raw: no Linux root filesystem found \(p1: vfat\)/,
    exitCode: 1,
  },
  {
    name: 'an empty ext4 partition',
    make: () => partitioned('empty.raw', '83', 'mkfs.ext4 -q'),
    message: /empty\.raw: no Linux root filesystem found \(p1: ext4\)/,
    exitCode: 1,
  },
  {
    name: 'a guest of an unknown distribution',
    make: () =>
      partitioned('arch.raw', '83', 'mkfs.ext4 -q', {
        'etc/fstab': '/dev/xvda1 / ext4 defaults 1 1\n',
        'etc/os-release': 'NAME="Arch Linux"\nID=arch\nPRETTY_NAME="Arch Linux"\n',
      }),
    message:
      /arch\.raw: Arch Linux \(unknown family\) is not supported; supported: Debian, Ubuntu, Red Hat \(RHEL, CentOS, Fedora\) and SUSE \(SLES, openSUSE\) guests$/,
    exitCode: 1,
  },
  {
    name: 'a Red Hat guest with a kernel but no initrd tool',
    make: () =>
      partitioned('centos.raw', '83', 'mkfs.ext4 -q', {
        'etc/fstab': '/dev/xvda1 / ext4 defaults 1 1\n',
        'etc/os-release':
          'NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n',
        'boot/vmlinuz-3.10.0-1160.el7.x86_64': 'not a real kernel\n',
        'lib/modules/3.10.0-1160.el7.x86_64/modules.builtin': '',
      }),
    message:
      /centos\.raw: the guest has no initrd tool xen2kvm can drive \(dracut or mkinitrd\); install one in it first$/,
    exitCode: 1,
  },
  {
    name: 'a Red Hat guest with no kernel',
    make: () =>
      partitioned('nokernel.raw', '83', 'mkfs.ext4 -q', {
        'etc/fstab': '/dev/xvda1 / ext4 defaults 1 1\n',
        'etc/redhat-release': 'CentOS release 5.11 (Final)\n',
      }),
    message:
      /nokernel\.raw: no kernel in the guest's \/boot \(it was booted by a kernel kept on the Xen host\); give one with --kernel-package FILE\.rpm \(the kernel package\)$/,
    exitCode: 1,
  },
  {
    name: 'a --root that names no root filesystem',
    make: () => workingCopy('debian12-xen-pv', join(dir, 'wrongroot.raw')),
    args: ['--root', '5'],
    message: /--root 5: no root filesystem there; candidates: 2/,
    exitCode: 2,
  },
  {
    name: 'a malformed Xen configuration',
    make: () => workingCopy('debian12-xen-pv', join(dir, 'badconfig.raw')),
    args: [
      '--xen-config',
      join(import.meta.dirname, '..', '..', 'fixtures', 'xen-configs', 'malformed', 'missing-equals.cfg'),
    ],
    message: /missing-equals\.cfg:2:8: expected '=' after memory but found '5'/,
    exitCode: 1,
  },
  {
    name: 'a truncated image',
    make: async () => {
      const image = await workingCopy('debian12-xen-pv', join(dir, 'truncated.raw'));
      truncateSync(image, 1024 * MiB);
      return image;
    },
    message:
      /truncated\.raw is truncated: partition 2 ends at byte 2147483648 but the file has 1073741824; restore the whole image first/,
    exitCode: 1,
  },
  {
    name: 'an image that cannot be written, converted in place',
    make: async () => {
      const image = await workingCopy('debian12-xen-pv', join(dir, 'immutable.raw'));
      await execa('chattr', ['+i', image]);
      return image;
    },
    args: ['--no-dry-run-marker', '--yes', '--in-place'],
    message:
      /immutable\.raw cannot be written \(EPERM: not permitted, or the file is immutable\); run as root, or use --output NEW/,
    exitCode: 1,
  },
  {
    name: 'a full guest filesystem, converted in place',
    make: async () => {
      const image = await workingCopy('debian12-xen-pv', join(dir, 'full.raw'));
      await editGuest(image, async (root) => {
        const { bavail, bsize } = statfsSync(root);
        await execa('fallocate', ['-l', String(bavail * bsize - 8 * MiB), join(root, 'filler')]);
      });
      return image;
    },
    args: ['--no-dry-run-marker', '--yes', '--in-place'],
    message:
      /no room for the journal inside the guest and the conversion's new files: \d+ MiB needed, \d+ MiB free in /,
    exitCode: 1,
  },
  {
    name: 'a guest filesystem that refuses to be written',
    make: async () => {
      const image = await workingCopy('debian12-xen-pv', join(dir, 'readonlyfs.raw'));
      const loop = (
        await execa('losetup', ['-f', '--show', '-o', String(526336 * 512), image])
      ).stdout.trim();
      try {
        await execa('tune2fs', ['-O', 'read-only', loop]);
      } finally {
        await execa('losetup', ['-d', loop]);
      }
      return image;
    },
    args: ['--no-dry-run-marker', '--yes', '--in-place'],
    message:
      /the guest's root filesystem \(partition 2\) cannot be mounted read-write \(.*\); check it with fsck first/,
    exitCode: 1,
  },
  {
    name: '--yes without saying where to write',
    make: () => workingCopy('debian12-xen-pv', join(dir, 'nowhere.raw')),
    args: ['--no-dry-run-marker', '--yes'],
    message:
      /--yes does not choose where to write: add --in-place \(journaled, undo with xen2kvm rollback\) or --output NEW\.raw/,
    exitCode: 2,
  },
  {
    name: 'a guest with only a Xen kernel',
    make: async () => {
      const image = await workingCopy('debian12-xen-pv', join(dir, 'xenonly.raw'));
      await editGuest(image, async (root) => {
        const { stdout } = await execa('bash', ['-c', `ls ${root}/boot/config-*`]);
        await execa('bash', ['-c', `echo CONFIG_X86_64_XEN=y >> ${stdout.trim()}`]);
      });
      return image;
    },
    message:
      /xenonly\.raw: only Xen kernels are installed \(\S+\); give a kernel that runs on KVM with --kernel-package FILE\.deb \(a linux-image-VERSION-amd64 package, from apt-get download\)$/,
    exitCode: 1,
  },
  {
    name: 'an apply without --yes and without a terminal',
    make: () => workingCopy('debian12-xen-pv', join(dir, 'noyes.raw')),
    args: ['--no-dry-run-marker'],
    message: /not a terminal, so no confirmation can be asked: review with --dry-run, then apply with --yes/,
    exitCode: 2,
  },
];

describe('bad input is refused in one clear line, with nothing lost or left behind', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const image = await c.make();
      const before = await contentDigest(image).catch(() => 'absent');
      const extra = c.args?.filter((a) => a !== '--no-dry-run-marker') ?? [];
      const applying = c.args?.includes('--no-dry-run-marker');
      const run = await runCli(['migrate', ...(applying ? [] : ['--dry-run']), ...extra, image]);
      const lastLine = run.stderr.trimEnd().split('\n').pop() ?? '';
      expect(lastLine).toMatch(/^xen2kvm: /);
      expect(lastLine).toMatch(c.message);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.exitCode).toBe(c.exitCode);
      expect(await contentDigest(image).catch(() => 'absent')).toBe(before);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    });
  }

  it('an image already attached to a loop device', async () => {
    const image = await workingCopy('debian12-xen-pv', join(dir, 'busy.raw'));
    const { stdout: loop } = await execa('losetup', ['-f', '--show', '-r', image]);
    try {
      const before = await contentDigest(image);
      for (const args of [['--dry-run'], ['--yes', '--in-place']]) {
        const run = await runCli(['migrate', ...args, image]);
        expect(run.stderr.trim()).toBe(
          `xen2kvm: ${image} is already attached to ${loop.trim()}; unmount and detach it (losetup -d) before converting`,
        );
        expect(run.exitCode).toBe(1);
      }
      expect(await contentDigest(image)).toBe(before);
    } finally {
      await execa('losetup', ['-d', loop.trim()]);
    }
  });

  it('usage errors exit with 2', async () => {
    const run = await runCli(['migrate', '--memory', 'lots', 'x.raw']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/option '--memory <MiB>' argument 'lots' is invalid/);
    expect((await runCli(['frobnicate'])).exitCode).toBe(2);
  });
});
