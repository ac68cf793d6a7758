/**
 * Xen PV guests were started by pygrub or by a kernel kept on dom0, so their MBR often holds no boot
 * code: under KVM the BIOS would find nothing to run. Install the guest's own GRUB into the disk
 * (grub-install inside its sandbox, against the loop device of the whole image); the boot menu it
 * reads is the one the grub-config step rewrote.
 */
import { hasBootCode } from '../src/disk/mbr.js';
import { bootAreaLength, isBiosBoot } from '../src/disk/partition-table.js';
import { UserError } from '../src/errors.js';
import { GRUB_LEGACY_CONFIGS, GRUB2_CONFIG, GRUB2_LAYOUTS } from '../src/guest/grub-layouts.js';
import { GUEST_TMPDIR } from '../src/pipeline/apply.js';
import type { Step, StepContext } from '../src/pipeline/types.js';

/**
 * GRUB legacy (SLES 10/11, RHEL 5/6): its shell, in batch mode, told that (hd0) is the whole disk,
 * writes stage1 into the MBR and stage1.5 behind it, reading the stage files from the partition
 * that holds /boot (msdos partitions only).
 */
function planGrubLegacy({ guest, command }: StepContext): void {
  if (guest.table.label !== 'dos') {
    throw new UserError(`${guest.label}: GRUB legacy can only be installed on an msdos-labelled disk`);
  }
  const partition = guest.bootPartition - 1;
  command({
    argv: ['grub', '--batch', '--no-floppy', '--device-map=/dev/null'],
    input: `device (hd0) ${guest.disk.disk}\nroot (hd0,${partition})\nsetup (hd0)\nquit\n`,
    why: `the MBR holds no boot code (the guest was booted by pygrub): GRUB legacy's setup (hd0) with /boot on (hd0,${partition})`,
    timeout: 'bootloader',
    touches: ['/boot/grub', GUEST_TMPDIR],
    writesBootArea: true,
    // setup writes stage2's settings into its file through the partition's device, which the shell
    // names after the disk's: LOOP + N.
    partitionNames: 'numbered',
    check: { kind: 'boot-code', tool: 'grub setup' },
  });
}

export const bootloaderStep: Step = {
  id: 'bootloader',
  title: 'Install a bootloader when the MBR has none',
  plan(ctx) {
    const { tree, guest, command } = ctx;
    // Direct kernel boot needs no boot code; a disk that has some keeps it.
    if (guest.boot === 'direct' || hasBootCode(guest.bootCode)) return;
    const grub2 = GRUB2_LAYOUTS.find(
      (l) =>
        tree.exists(l.config) &&
        tree.exists(`/usr/sbin/${l.install}`) &&
        tree.exists('/usr/lib/grub/i386-pc'),
    );
    const legacyShell = ['/sbin/grub', '/usr/sbin/grub'].find((p) => tree.exists(p));
    if (!grub2 && legacyShell && GRUB_LEGACY_CONFIGS.some((p) => tree.exists(p))) {
      planGrubLegacy(ctx);
      return;
    }
    if (!grub2) {
      const hasGrub2 = GRUB2_LAYOUTS.some((l) => tree.exists(`/usr/sbin/${l.install}`));
      throw new UserError(
        hasGrub2
          ? `${guest.label} has no boot code and no ${GRUB2_CONFIG} (or /boot/grub2/grub.cfg) to boot from; create one in the guest first`
          : `${guest.label} has no boot code and the guest has no GRUB for BIOS (grub-pc-bin, or GRUB legacy with its menu.lst) to install; install it in the guest first`,
      );
    }
    const gpt = guest.table.label === 'gpt';
    const bios = guest.table.partitions.filter(isBiosBoot);
    if (gpt && bios.length === 0) {
      throw new UserError(
        `${guest.label} is a GPT disk with no boot code and no BIOS boot partition for GRUB to embed itself in; add a 1 MiB partition of type BIOS boot (sfdisk type 21686148-6449-6E6F-744E-656564454649) first`,
      );
    }
    if (bios.some((b) => b.start + b.size > bootAreaLength(guest.table))) {
      throw new UserError(
        `${guest.label}: its BIOS boot partition lies behind other partitions, which xen2kvm cannot journal; move it to the front of the disk first`,
      );
    }
    const partitionModule = gpt ? 'part_gpt' : 'part_msdos';
    const fsModule = ['ext2', 'ext3', 'ext4'].includes(guest.rootFsType) ? 'ext2' : guest.rootFsType;
    command({
      argv: [grub2.install, '--target=i386-pc', `--modules=${partitionModule} ${fsModule}`, guest.disk.disk],
      why: 'the MBR holds no boot code (the guest was booted by pygrub)',
      timeout: 'bootloader',
      touches: [grub2.dir, GUEST_TMPDIR],
      writesBootArea: true,
      check: { kind: 'boot-code', tool: grub2.install },
    });
  },
};
