/**
 * Kernels: a guest whose only kernel is a Xen kernel is refused until a KVM kernel package is given;
 * with one (a real Debian cloud kernel .deb, installed by dpkg -i inside the chroot) the guest boots
 * that kernel to a login on ttyS0, and rollback takes it all back. A guest with several kernels asks
 * which one to boot on a terminal, and --kernel chooses without asking.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { bootCheckArgs, CLI, runCli } from '../helpers/cli.js';
import { editGuest, guestFingerprint } from '../helpers/guest-tree.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { testDeadline } from '../helpers/machine-pace.js';
import { keys, startTerminal, stopTerminal, waitFor } from '../helpers/terminal.js';

// A conversion and a TCG boot: about 3 minutes on an idle machine; stretched on a busy one.
// A boot may first wait for the TCG boot slot: another file's boot, or the saturated fault run.
const BOOT_TEST_TIMEOUT = testDeadline(12 * 60);

let dir: string;
let kernelDeb: string;
let cloudVersion: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-kernels-'));
  kernelDeb = await ensureFixture('debian12-kernel-deb');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the Debian guest whose one kernel reads as a Xen kernel (CONFIG_X86_64_XEN=y). */
async function xenOnlyGuest(name: string): Promise<string> {
  const image = await workingCopy('debian12-xen-pv', join(dir, name));
  await editGuest(image, (root) => {
    const boot = join(root, 'boot');
    for (const file of readdirSync(boot).filter((n) => n.startsWith('config-'))) {
      appendFileSync(join(boot, file), 'CONFIG_X86_64_XEN=y\n');
    }
  });
  return image;
}

describe('a guest with only a Xen kernel', () => {
  it(
    'gets the --kernel-package kernel installed with dpkg -i, boots it on ttyS0, and rollback undoes it all',
    async () => {
      const image = await xenOnlyGuest('xenonly.raw');
      const original = await guestFingerprint(image);

      const dry = await runCli(['migrate', image, '--dry-run', '--kernel-package', kernelDeb]);
      expect(dry.stderr).not.toMatch(/^\s+at /m);
      expect(dry.exitCode).toBe(0);
      cloudVersion = /^# boots by default: (\S+-cloud-amd64)$/m.exec(dry.stdout)?.[1] ?? '';
      expect(cloudVersion).not.toBe('');
      expect(dry.stdout).toMatch(/^# kernels: \S+ \(Xen only\)$/m);
      expect(dry.stdout).toMatch(
        /^dpkg -i \/var\/lib\/xen2kvm\/tmp\/packages\/linux-image-\S+-cloud-amd64\.deb$/m,
      );
      expect(dry.stdout).toContain(`+menuentry 'Debian GNU/Linux 12, Linux ${cloudVersion}' {`);
      expect(dry.stdout).toContain(
        `+\tlinux\t/boot/vmlinuz-${cloudVersion} root=/dev/vda2 ro console=ttyS0,115200`,
      );

      const run = await runCli([
        'migrate',
        image,
        '--in-place',
        '--yes',
        '--kernel-package',
        kernelDeb,
        ...bootCheckArgs(join(dir, 'xenonly.console.log')),
      ]);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stdout).toMatch(/boot check passed: xen-guest login:/);
      expect(run.exitCode).toBe(0);
      expect(readFileSync(join(dir, 'xenonly.console.log'), 'utf8')).toContain(
        `Linux version ${cloudVersion} `,
      );
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);

      const rollback = await runCli(['rollback', image]);
      expect(rollback.exitCode).toBe(0);
      expect(await guestFingerprint(image)).toEqual(original);
    },
    BOOT_TEST_TIMEOUT,
  );

  it('is refused without one, naming the package to give, and changes nothing', async () => {
    const image = await xenOnlyGuest('refused.raw');
    const before = await contentDigest(image);
    const run = await runCli(['migrate', image, '--in-place', '--yes']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: \S+refused\.raw: only Xen kernels are installed \(\S+\); give a kernel that runs on KVM with --kernel-package FILE\.deb/,
    );
    expect(await contentDigest(image)).toBe(before);
  });
});

describe('a guest with several kernels', () => {
  let image: string;

  beforeAll(async () => {
    // The Debian guest with the cloud kernel installed beside its own: both boot on KVM.
    image = await workingCopy('debian12-xen-pv', join(dir, 'two.raw'));
    const install = await runCli(['migrate', image, '--in-place', '--yes', '--kernel-package', kernelDeb]);
    expect(install.exitCode).toBe(0);
    expect((await runCli(['commit', image])).exitCode).toBe(0);
  });

  it('asks on a terminal which one to boot, and the menu default follows the answer', async () => {
    const session = await startTerminal(`node ${CLI} migrate --dry-run ${image}; echo "EXIT=$?"; sleep 120`);
    try {
      await waitFor(session, /Several kernels can boot on KVM/);
      // The menu's default (the cloud kernel, first) is offered first; the guest's own is second.
      await keys(session, 'Down', 'Enter');
      const text = await waitFor(session, /EXIT=\d+/);
      expect(text).toMatch(/# boots by default: 6\.1\.0-\d+-amd64/);
      expect(text).toContain('+set default="1"');
      expect(Number(/EXIT=(\d+)/.exec(text)?.[1])).toBe(0);
    } finally {
      await stopTerminal(session);
    }
  });

  it('--kernel chooses without asking; a kernel the guest cannot boot is refused with the choices', async () => {
    const chosen = await runCli(['migrate', '--dry-run', image, '--kernel', cloudVersion || 'none']);
    expect(chosen.exitCode).toBe(0);
    expect(chosen.stdout).toContain(`# boots by default: ${cloudVersion}`);
    expect(chosen.stdout).not.toContain('set default=');
    const wrong = await runCli(['migrate', '--dry-run', image, '--kernel', '2.6.18-xen']);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: --kernel 2\.6\.18-xen: not a kernel the guest can boot on KVM; choices: \S+-cloud-amd64, 6\.1\.0-\d+-amd64$/,
    );
  });
});
