/**
 * Never lose a guest: copy mode leaves the source untouched, the in-place journal rolls back byte
 * for byte, locks and open-file checks refuse a busy image, and a run killed at any step (SIGTERM or
 * SIGKILL) leaves nothing mounted or attached once cleaned up, and an image that rolls back to the
 * original.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { lockPath } from '../../src/safety/lock.js';
import { runCli } from '../helpers/cli.js';
import { FAULT_POINTS, killAt } from '../helpers/faults.js';
import { guestFingerprint } from '../helpers/guest-tree.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';

let dir: string;
let original: Awaited<ReturnType<typeof guestFingerprint>>;
let counter = 0;

async function copy(): Promise<string> {
  return workingCopy('debian12-xen-pv', join(dir, `guest-${++counter}.raw`));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-safety-'));
  original = await guestFingerprint(await copy());
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('copy mode', () => {
  it('--output NEW.raw converts a sparse copy and never writes the source', async () => {
    const source = await copy();
    const before = await contentDigest(source);
    const output = join(dir, 'converted.raw');
    const run = await runCli(['migrate', '--yes', '--output', output, source]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`converted ${source} into ${output}: 7 file(s) changed, 3 command(s) run`);
    expect(await contentDigest(source)).toBe(before);
    expect(existsSync(`${source}.xen2kvm-journal`)).toBe(false);
    // Sparse: the copy costs about what the source's data does, far less than its 2 GiB.
    expect(statSync(output).blocks * 512).toBeLessThan(statSync(source).blocks * 512 * 1.2);
    const again = await runCli(['migrate', '--dry-run', output]);
    expect(again.stdout).toContain('# 0 file change(s) in the guest');
    expect(again.stdout).toContain('# 0 command(s) to run inside the guest');
    expect(await leftovers(output)).toEqual(NOTHING_LEFT);
  });

  it('--output-format qcow2 writes a thin overlay backed by the untouched source', async () => {
    const source = await copy();
    const before = await contentDigest(source);
    const output = join(dir, 'overlay.qcow2');
    const run = await runCli(['migrate', '--yes', '--output', output, '--output-format', 'qcow2', source]);
    expect(run.exitCode).toBe(0);
    expect(await contentDigest(source)).toBe(before);
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', output])).stdout) as {
      format: string;
      'backing-filename': string;
      'actual-size': number;
    };
    expect(info.format).toBe('qcow2');
    expect(info['backing-filename']).toBe(source);
    expect(info['actual-size']).toBeLessThan(64 * 1024 * 1024);
    expect(run.stdout).toContain(`domain XML: ${join(dir, 'overlay.xml')}`);
    // The overlay over its source holds the converted guest.
    const flat = join(dir, 'flattened.raw');
    await execa('qemu-img', ['convert', '-O', 'raw', output, flat]);
    const check = await runCli(['migrate', '--dry-run', flat]);
    expect(check.stdout).toContain('# 0 file change(s) in the guest');
    rmSync(flat);
  });

  it('--output on a filesystem without room stops before writing anything', async () => {
    const source = await copy();
    const small = join(dir, 'small');
    await execa('mkdir', ['-p', small]);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=16M', 'tmpfs', small]);
    try {
      const run = await runCli(['migrate', '--yes', '--output', join(small, 'out.raw'), source]);
      expect(run.exitCode).toBe(1);
      expect(run.stderr.trim().split('\n').pop()).toMatch(
        /^xen2kvm: no room for the copy of .*: \d+ MiB needed, \d+ MiB free in /,
      );
      expect(existsSync(join(small, 'out.raw'))).toBe(false);
      expect(existsSync(join(small, 'out.raw.partial'))).toBe(false);
    } finally {
      await execa('umount', [small]);
    }
  });
});

describe('in-place journal', () => {
  it('rollback restores every file and the boot area byte for byte; commit drops the journal', async () => {
    const image = await copy();
    // The domain XML is a file of the run's on the host: replaced by the conversion, put back by rollback.
    const xml = image.replace(/\.raw$/, '.xml');
    writeFileSync(xml, '<domain>the operator kept this</domain>\n');
    const run = await runCli(['migrate', '--yes', '--in-place', image]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`journal: ${image}.xen2kvm-journal`);
    expect(readFileSync(xml, 'utf8')).toContain('<target dev="vda" bus="virtio"/>');
    const converted = await guestFingerprint(image);
    expect(converted.tree).not.toBe(original.tree);
    expect(converted.bootArea).not.toBe(original.bootArea);

    const back = await runCli(['rollback', image]);
    expect(back.exitCode).toBe(0);
    expect(back.stdout).toMatch(
      /^rolled back .*: \d+ path\(s\) restored, \d+ removed, boot area \(1048576 bytes\) restored; on this host 1 file\(s\) restored, 0 removed$/m,
    );
    expect(readFileSync(xml, 'utf8')).toBe('<domain>the operator kept this</domain>\n');
    expect(await guestFingerprint(image)).toEqual(original);
    expect(existsSync(`${image}.xen2kvm-journal`)).toBe(false);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);

    // Refused before the image is attached: it stays byte-identical.
    const unchanged = await contentDigest(image);
    const none = await runCli(['rollback', image]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr.trim().split('\n').pop()).toMatch(
      /has no xen2kvm journal beside it \(.*\): nothing to undo or keep/,
    );
    expect(await contentDigest(image)).toBe(unchanged);
    // Asked to look inside the guest, every command only reads until it finds a journal there.
    for (const command of ['rollback', 'commit']) {
      const inside = await runCli([command, '--from-guest-journal', image]);
      expect(inside.exitCode).toBe(1);
      expect(inside.stderr.trim().split('\n').pop()).toBe(
        `xen2kvm: ${image} has no xen2kvm journal, inside the guest either: nothing to ${command === 'rollback' ? 'roll back' : 'commit'}`,
      );
    }
    expect((await runCli(['cleanup', image])).exitCode).toBe(0);
    expect(await contentDigest(image)).toBe(unchanged);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);

    expect((await runCli(['migrate', '--yes', '--in-place', image])).exitCode).toBe(0);
    const kept = await runCli(['commit', image]);
    expect(kept.exitCode).toBe(0);
    expect(kept.stdout).toContain(`committed ${image}`);
    expect(existsSync(`${image}.xen2kvm-journal`)).toBe(false);
    // Still converted, and nothing of the journal left inside the guest.
    const dry = await runCli(['migrate', '--dry-run', image]);
    expect(dry.stdout).toContain('# 0 file change(s) in the guest');
    expect((await runCli(['rollback', image])).stderr).toMatch(/has no xen2kvm journal/);
  });

  it('the copy inside the guest serves, when asked for, once the one beside the image is lost', async () => {
    const image = await copy();
    expect((await runCli(['migrate', '--yes', '--in-place', image])).exitCode).toBe(0);
    rmSync(`${image}.xen2kvm-journal`, { recursive: true });
    const refused = await runCli(['rollback', image]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('--from-guest-journal');
    const back = await runCli(['rollback', '--from-guest-journal', image]);
    expect(back.stderr).toContain('note: using the journal kept inside the guest');
    expect(back.exitCode).toBe(0);
    expect(await guestFingerprint(image)).toEqual(original);
  });
});

describe('busy images', () => {
  it('a lock held by a live xen2kvm refuses; a stale one is explained and taken over', async () => {
    const image = await copy();
    const holder = execa('sleep', ['60']);
    const lock = lockPath(image);
    try {
      writeFileSync(lock, JSON.stringify({ pid: holder.pid, image, started: '2026-01-01T00:00:00Z' }));
      const busy = await runCli(['migrate', '--dry-run', image]);
      expect(busy.exitCode).toBe(1);
      expect(busy.stderr.trim()).toBe(
        `xen2kvm: ${image} is being converted by another xen2kvm (pid ${holder.pid}, since 2026-01-01T00:00:00Z); wait for it to finish`,
      );
    } finally {
      holder.kill();
      await holder.catch(() => undefined);
    }
    const stale = await runCli(['migrate', '--dry-run', image]);
    expect(stale.stderr).toContain(
      `note: a stale lock on ${image} from pid ${holder.pid} (no longer running) was removed`,
    );
    expect(stale.exitCode).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });

  it('an image open in another process (a running guest) is refused', async () => {
    const image = await copy();
    const holder = execa('bash', ['-c', `exec 3<'${image}'; exec sleep 60`]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      const run = await runCli(['migrate', '--dry-run', image]);
      expect(run.exitCode).toBe(1);
      expect(run.stderr.trim()).toBe(
        `xen2kvm: ${image} is open in sleep (pid ${holder.pid}); shut the guest down (or stop that process) before converting`,
      );
    } finally {
      holder.kill();
      await holder.catch(() => undefined);
    }
  });
});

describe('faults at every step', () => {
  const points = FAULT_POINTS;
  // SIGTERM at each of these points runs in faults-saturated.test.ts, with the CPUs saturated.
  for (const point of points) {
    it(`SIGKILL at "${point}": cleanup leaves nothing on the host, and the guest rolls back to the original`, async () => {
      const image = await copy();
      await killAt(image, point, 'SIGKILL');
      const cleanup = await runCli(['cleanup', image]);
      expect(cleanup.exitCode).toBe(0);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
      if (existsSync(`${image}.xen2kvm-journal`)) {
        const back = await runCli(['rollback', image]);
        expect(back.exitCode).toBe(0);
      }
      expect(await guestFingerprint(image)).toEqual(original);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    });
  }

  it('after a SIGKILL the next run releases what the dead one left, and can resume to a full conversion', async () => {
    const image = await copy();
    await killAt(image, 'Run in guest: grub-install', 'SIGKILL');
    const resumed = await runCli(['migrate', '--yes', '--in-place', image]);
    expect(resumed.stderr).toMatch(/note: unmounted .* \(left by pid \d+ converting /);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    const dry = await runCli(['migrate', '--dry-run', image]);
    expect(dry.stdout).toContain('# 0 file change(s) in the guest');
    expect(dry.stdout).toContain('# 0 command(s) to run inside the guest');
    // The journal kept the originals from before the first, interrupted run.
    expect((await runCli(['rollback', image])).exitCode).toBe(0);
    expect(await guestFingerprint(image)).toEqual(original);
  });
});
