/**
 * Xen PV guests were started by pygrub or by a kernel kept on dom0, so their MBR often holds no boot
 * code: under KVM the BIOS would find nothing to run. Install the guest's own GRUB into the disk
 * (grub-install inside the chroot, against the loop device of the whole image); the boot menu it
 * reads is the one the grub-config step rewrote.
 */
import { hasBootCode, readBootCode } from '../src/disk/mbr.js';
import { bootAreaLength, isBiosBoot } from '../src/disk/partition-table.js';
import { UserError } from '../src/errors.js';
import { GUEST_TMPDIR } from '../src/pipeline/apply.js';
import type { Step } from '../src/pipeline/types.js';
import { GRUB2_CONFIG } from './grub-config.js';

export const bootloaderStep: Step = {
  id: 'bootloader',
  title: 'Install a bootloader when the MBR has none',
  plan({ tree, guest, command }) {
    // Direct kernel boot needs no boot code; a disk that has some keeps it.
    if (guest.boot === 'direct' || hasBootCode(guest.bootCode)) return;
    if (!tree.exists('/usr/sbin/grub-install') || !tree.exists('/usr/lib/grub/i386-pc')) {
      throw new UserError(
        `${guest.label} has no boot code and the guest has no GRUB for BIOS (grub-pc-bin) to install; install it in the guest first`,
      );
    }
    if (!tree.exists(GRUB2_CONFIG)) {
      throw new UserError(
        `${guest.label} has no boot code and no ${GRUB2_CONFIG} to boot from; create one in the guest first`,
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
      argv: ['grub-install', '--target=i386-pc', `--modules=${partitionModule} ${fsModule}`, guest.disk.disk],
      why: 'the MBR holds no boot code (the guest was booted by pygrub)',
      timeout: 'bootloader',
      touches: ['/boot/grub', GUEST_TMPDIR],
      writesBootArea: true,
      check: {
        describe: 'the MBR holds boot code',
        async run() {
          if (!hasBootCode(await readBootCode(guest.image))) {
            throw new UserError('grub-install finished but the MBR still holds no boot code');
          }
        },
      },
    });
  },
};
