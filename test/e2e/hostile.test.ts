/**
 * Hostile and broken images: symlinks aimed at host files, device nodes and fifos where
 * configuration files should be, a huge file, names with newlines. No host file may change, every
 * run must end (no read of /dev/zero or a fifo), and refusals come in one line.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { editGuest, readFromPartition } from '../helpers/guest-tree.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { paced } from '../helpers/machine-pace.js';

let dir: string;
const canaries = ['/etc/host-canary-x2k', '/tmp/host-canary-x2k'];
const watched = [...canaries, '/etc/passwd', '/etc/shadow', '/etc/fstab', '/etc/hostname'];
let hostBefore: Record<string, string>;

async function hostState(): Promise<Record<string, string>> {
  return Object.fromEntries(
    await Promise.all(watched.map(async (path) => [path, await contentDigest(path)])),
  );
}

beforeAll(async () => {
  // Built here, under the hook's time limit, not by the first test that needs it.
  await ensureFixture('debian12-xen-pv');
  dir = mkdtempSync(join(tmpdir(), 'e2e-hostile-'));
  for (const path of canaries) writeFileSync(path, 'host data that must never change\n');
  hostBefore = await hostState();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const path of canaries) rmSync(path, { force: true });
});

let image0: string;

async function hostile(name: string, edit: (root: string) => Promise<void> | void): Promise<string> {
  const image = await workingCopy('debian12-xen-pv', join(dir, `${name}.raw`));
  image0 = image;
  await editGuest(image, edit);
  return image;
}

function oneCleanLine(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('hostile images never touch the host', () => {
  it('symlinks to host paths, absolute and escaping upwards, stay inside the guest', async () => {
    const image = await hostile('symlinks', (root) => {
      unlinkSync(join(root, 'etc/fstab'));
      symlinkSync('/etc/host-canary-x2k', join(root, 'etc/fstab'));
      unlinkSync(join(root, 'etc/default/grub'));
      symlinkSync('../../../../../../../../tmp/host-canary-x2k', join(root, 'etc/default/grub'));
      unlinkSync(join(root, 'etc/initramfs-tools/modules'));
      symlinkSync('/etc/shadow', join(root, 'etc/initramfs-tools/modules'));
    });
    const run = await runCli(['migrate', '--yes', '--in-place', image]);
    oneCleanLine(run.stderr);
    expect(run.exitCode).toBe(0);
    expect(await hostState()).toEqual(hostBefore);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('device nodes and fifos where configuration files belong are never read', async () => {
    const image = await hostile('devices', async (root) => {
      unlinkSync(join(root, 'etc/initramfs-tools/modules'));
      await execa('mknod', [join(root, 'etc/initramfs-tools/modules'), 'c', '1', '5']);
      unlinkSync(join(root, 'etc/fstab'));
      await execa('mkfifo', [join(root, 'etc/fstab')]);
      await execa('mknod', [join(root, 'etc/inittab'), 'c', '1', '5']);
    });
    const run = await runCli(['migrate', '--dry-run', image], { timeout: paced(120) * 1000 });
    oneCleanLine(run.stderr);
    expect(run.exitCode).toBe(0);
    expect(await hostState()).toEqual(hostBefore);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('a configuration file of gigabytes is refused in one line', async () => {
    const image = await hostile('huge', (root) => {
      truncateSync(join(root, 'etc/default/grub'), 10 * 1024 ** 3);
    });
    const before = await contentDigest(image);
    const run = await runCli(['migrate', '--dry-run', image]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').pop()).toBe(
      "xen2kvm: the guest's /etc/default/grub is 10737418240 bytes, too large for the file it should be; check the image",
    );
    expect(await contentDigest(image)).toBe(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('names with newlines cannot forge lines of the report', async () => {
    const image = await hostile('newlines', (root) => {
      const wants = join(root, 'etc/systemd/system/getty.target.wants');
      symlinkSync(
        '/lib/systemd/system/serial-getty@.service',
        join(wants, 'serial-getty@hvc0.service\n+++ injected-header'),
      );
    });
    const run = await runCli(['migrate', '--dry-run', image]);
    oneCleanLine(run.stderr);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).not.toContain('\n+++ injected-header');
    expect(await hostState()).toEqual(hostBefore);
  });
});

const KERNEL = '6.1.0-50-amd64';

/** The host commands a run's -v log shows it started. */
const commandsRun = (stderr: string) =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('  $ '))
    .map((line) => line.slice(4).split(' ')[0]);

describe('a review runs nothing of the guest', () => {
  it('lists a zstd initrd on the host, with no guest program run (the guest wraps its listers)', async () => {
    const image = await hostile('zstd-initrd', async (root) => {
      const initrd = join(root, `boot/initrd.img-${KERNEL}`);
      const cpio = await execa('sh', ['-c', `zcat '${initrd}'`], { encoding: 'buffer' });
      writeFileSync(
        initrd,
        (await execa('zstd', ['-c', '-q'], { input: cpio.stdout, encoding: 'buffer' })).stdout,
      );
      for (const tool of ['usr/bin/lsinitramfs', 'usr/bin/unmkinitramfs', 'usr/bin/lsinitrd']) {
        writeFileSync(join(root, tool), '#!/bin/sh\necho ran >/tmp/host-canary-x2k\n', { mode: 0o755 });
      }
    });
    const run = await runCli(['migrate', '--dry-run', '-v', image]);
    expect(run.exitCode).toBe(0);
    const started = commandsRun(run.stderr);
    expect(started.length).toBeGreaterThan(3);
    expect(started.filter((file) => ['bwrap', 'chroot', 'sh', '/bin/sh'].includes(file ?? ''))).toEqual([]);
    // Read on the host: the listing found what the initrd lacks, it did not give up on the format.
    expect(run.stdout).toMatch(new RegExp(`why: /boot/initrd.img-${KERNEL} lacks virtio_pci, virtio_blk`));
    expect(run.stdout).toContain('# guest commands run in a bubblewrap sandbox');
    expect(await hostState()).toEqual(hostBefore);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('stops reading an initrd that is a decompression bomb and says so in one warning', async () => {
    const image = await hostile('gzip-bomb', async (root) => {
      // A cpio member claiming 4 GiB, then 3 GiB of zeros: 48 gzip members of 64 MiB each.
      const header = `070701${'0'.repeat(8 * 6)}ffffffff${'0'.repeat(8 * 4)}00000006${'0'.repeat(8)}zeros\0`;
      const first = await execa('sh', ['-c', 'cat; head -c 67108864 /dev/zero'], {
        input: header,
        encoding: 'buffer',
      });
      const member = (await execa('gzip', ['-1', '-c'], { input: first.stdout, encoding: 'buffer' })).stdout;
      const zeros = (
        await execa('sh', ['-c', 'head -c 67108864 /dev/zero | gzip -1 -c'], { encoding: 'buffer' })
      ).stdout;
      writeFileSync(
        join(root, `boot/initrd.img-${KERNEL}`),
        Buffer.concat([member, ...Array(47).fill(zeros)]),
      );
    });
    const run = await runCli(['migrate', '--dry-run', image]);
    expect(run.exitCode).toBe(0);
    // Stopped by its byte cap, or by its time cap on a machine busy enough to be slower than that.
    expect(run.stdout).toMatch(
      new RegExp(
        `# warning: initrd: /boot/initrd.img-${KERNEL} cannot be read on the host \\(gzip: (more than 1024 MiB decompressed \\(a decompression bomb\\?\\)|reading it took more than 60 s)\\): it is rebuilt`,
      ),
    );
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });
});

describe('the journal is the host’s', () => {
  it('a guest whose journal directory is a symlink to a host path keeps its journal inside itself', async () => {
    const image = await hostile('journal-symlink', (root) => {
      rmSync(join(root, 'var/lib/xen2kvm'), { recursive: true, force: true });
      symlinkSync('/dev', join(root, 'var/lib/xen2kvm'));
    });
    const devBefore = readdirSync('/dev').filter((n) => ['journal', 'tmp'].includes(n));
    const run = await runCli(['migrate', '--yes', '--in-place', image]);
    expect(run.exitCode).toBe(0);
    expect(readdirSync('/dev').filter((n) => ['journal', 'tmp'].includes(n))).toEqual(devBefore);
    // It went to the guest's own /dev, where the symlink leads inside the guest.
    const [copy] = await readFromPartition(image, 2, ['/dev/journal/journal.json']);
    expect(JSON.parse(copy ?? '{}').state).toBe('applied');
    expect((await runCli(['rollback', image])).exitCode).toBe(0);
    expect(await hostState()).toEqual(hostBefore);
  });

  it('a journal forged inside the guest is refused, and when adopted changes only the guest', async () => {
    const canary = `/dev/x2k-canary-${process.pid}`;
    writeFileSync(canary, 'host file under /dev\n');
    const runMode = statSync('/run').mode;
    try {
      const image = await hostile('forged-journal', async (root) => {
        const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
        const mbr = Buffer.alloc(512);
        const fd = openSync(image0, 'r');
        readSync(fd, mbr, 0, 512, 0);
        closeSync(fd);
        const script = '#!/bin/sh\nid\n';
        const dir = join(root, 'var/lib/xen2kvm/journal');
        mkdirSync(join(dir, 'blobs'), { recursive: true });
        writeFileSync(join(dir, 'blobs', sha(mbr)), mbr);
        writeFileSync(join(dir, 'blobs', sha(script)), script);
        const entry = (path: string, mode: number) => ({ path, type: 'dir', mode, uid: 0, gid: 0 });
        writeFileSync(
          join(dir, 'journal.json'),
          JSON.stringify({
            version: 1,
            image: '/srv/other.raw',
            created: '2026-01-01T00:00:00Z',
            state: 'applied',
            rootPartition: 2,
            roots: ['/dev', '/run', '/usr/local/bin/suid'],
            entries: [
              entry('/dev', 0o777),
              entry('/run', 0o777),
              {
                path: '/usr/local/bin/suid',
                type: 'file',
                mode: 0o4755,
                uid: 0,
                gid: 0,
                sha256: sha(script),
                size: 14,
              },
            ],
            bootArea: { length: 512, sha256: sha(mbr) },
            commands: [],
            guestDirExisted: true,
          }),
        );
      });
      const before = await contentDigest(image);
      const refused = await runCli(['rollback', image]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr.trim().split('\n')).toEqual([
        `xen2kvm: ${image} has no xen2kvm journal beside it (${image}.xen2kvm-journal): nothing to undo or keep (it was not converted in place, or was committed; if it moved hosts without it, --from-guest-journal uses the guest's own copy)`,
      ]);
      expect(await contentDigest(image)).toBe(before);
      const adopted = await runCli(['rollback', '--from-guest-journal', image]);
      expect(adopted.exitCode, adopted.stderr).toBe(0);
      expect(readFileSync(canary, 'utf8')).toBe('host file under /dev\n');
      expect(statSync('/run').mode).toBe(runMode);
      expect(existsSync('/usr/local/bin/suid')).toBe(false);
      const [suid] = await readFromPartition(image, 2, ['/usr/local/bin/suid']);
      expect(suid).toBe('#!/bin/sh\nid\n');
      expect(await hostState()).toEqual(hostBefore);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    } finally {
      rmSync(canary, { force: true });
    }
  });
});

describe('one run per image', () => {
  it('two in-place runs started together, through a symlink or a hard link, never both convert', async () => {
    // A fresh guest each round: both runs then have a whole conversion to do, so they overlap.
    let image = '';
    for (const [round, kind] of ['symlink', 'hard link', 'symlink'].entries()) {
      image = await workingCopy('debian12-xen-pv', join(dir, `race-${round}.raw`));
      const other = join(dir, `race-${round}-other.raw`);
      if (kind === 'symlink') symlinkSync(image, other);
      else linkSync(image, other);
      const runs = await Promise.all([
        runCli(['migrate', '--yes', '--in-place', image]),
        runCli(['migrate', '--yes', '--in-place', other]),
      ]);
      const refused = runs.filter((r) => r.exitCode !== 0);
      expect(runs.filter((r) => r.exitCode === 0)).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]?.stderr.trim().split('\n').pop()).toMatch(
        /is being converted by another xen2kvm \(pid \d+, since .*\); wait for it to finish$/,
      );
    }
    const { stdout } = await execa('sfdisk', ['-J', image]);
    const root = JSON.parse(stdout).partitiontable.partitions[1] as { start: number; size: number };
    const loop = (
      await execa('losetup', [
        '-f',
        '--show',
        '-r',
        '-o',
        String(root.start * 512),
        '--sizelimit',
        String(root.size * 512),
        image,
      ])
    ).stdout.trim();
    try {
      const fsck = await execa('e2fsck', ['-fn', loop], { reject: false });
      expect(fsck.exitCode, fsck.stdout).toBe(0);
    } finally {
      await execa('losetup', ['-d', loop]);
    }
  });
});

describe('a block device as IMAGE', () => {
  it('is converted in place only with a journal directory on a persistent filesystem; review and copy work', async () => {
    const image = await workingCopy('debian12-xen-pv', join(dir, 'blockdev.raw'));
    const device = (await execa('losetup', ['-f', '--show', image])).stdout.trim();
    const name = device.replace('/dev/', '');
    const journals = mkdtempSync(join('/var/tmp', 'x2k-journals-'));
    try {
      const before = await contentDigest(image);
      const refused = await runCli(['migrate', '--yes', '--in-place', device]);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr.trim().split('\n').pop()).toBe(
        `xen2kvm: ${device} is a block device: an in-place journal beside it would be in /dev, lost at the next reboot; give --journal-dir DIR on a persistent filesystem, or convert a copy with --output NEW`,
      );
      const tmpfs = await runCli(['migrate', '--yes', '--in-place', '--journal-dir', '/dev/shm', device]);
      expect(tmpfs.exitCode).toBe(2);
      expect(tmpfs.stderr).toContain('--journal-dir /dev/shm is on tmpfs, lost at the next reboot');
      expect(await contentDigest(image)).toBe(before);
      expect((await runCli(['migrate', '--dry-run', device])).exitCode).toBe(0);
      const copy = join(dir, 'blockdev-copy.raw');
      expect((await runCli(['migrate', '--yes', '--output', copy, device])).exitCode).toBe(0);
      expect(existsSync(join(dir, 'blockdev-copy.xml'))).toBe(true);
      expect(await contentDigest(image)).toBe(before);
      const inPlace = await runCli(['migrate', '--yes', '--in-place', '--journal-dir', journals, device]);
      expect(inPlace.exitCode).toBe(0);
      expect(existsSync(join(journals, `${name}.xen2kvm-journal`, 'journal.json'))).toBe(true);
      expect(existsSync(join(journals, `${name}.xml`))).toBe(true);
      expect(readdirSync('/dev').filter((n) => n.includes('xen2kvm') || n.endsWith('.xml'))).toEqual([]);
      const rolled = await runCli(['rollback', '--journal-dir', journals, device]);
      expect(rolled.exitCode).toBe(0);
      expect(await leftovers(device, [device])).toEqual(NOTHING_LEFT);
    } finally {
      await execa('losetup', ['-d', device], { reject: false });
      rmSync(journals, { recursive: true, force: true });
    }
  });
});
