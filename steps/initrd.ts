/**
 * Rebuilds the initrd of every bootable (non-Xen-only) kernel whose initrd lacks the virtio block
 * driver or the root filesystem's driver, with the guest's own tool inside its sandbox, and checks
 * the result: a module still missing afterwards is an error whatever the tool's exit code said.
 */
import { UserError } from '../src/errors.js';
import { missingFromInitrd, requiredModules, rootModules } from '../src/guest/initrd-tools.js';
import { GUEST_TMPDIR } from '../src/pipeline/apply.js';
import type { Step } from '../src/pipeline/types.js';

/** What the backup of a replaced initrd is called: /boot/initrd.img-VERSION.xen2kvm-orig. */
export const INITRD_BACKUP_SUFFIX = '.xen2kvm-orig';

export const initrdStep: Step = {
  id: 'initrd',
  title: 'Rebuild the initrd with virtio drivers',
  async plan({ tree, guest, command, warn }) {
    const supplied = guest.kernelPackages.some((p) => p.versions.length > 0);
    if (guest.kernels.length === 0 && !supplied) {
      throw new UserError(
        `${guest.label}: no kernel in the guest's /boot (it was booted by a kernel kept on the Xen host); give one with --kernel-package ${guest.profile.kernelPackageHint}`,
      );
    }
    if (guest.kernels.every((k) => k.xenOnly) && !supplied) {
      const versions = guest.kernels.map((k) => k.version).join(', ');
      throw new UserError(
        `${guest.label}: only Xen kernels are installed (${versions}); give a kernel that runs on KVM with --kernel-package ${guest.profile.kernelPackageHint}`,
      );
    }
    const kernels = guest.kernels.filter((k) => !k.xenOnly && tree.exists(`/lib/modules/${k.version}`));
    if (kernels.length === 0) return;
    const tool = guest.profile.initrdTool(tree);
    if (!tool) {
      throw new UserError(
        `${guest.label}: the guest has no initrd tool xen2kvm can drive (${guest.profile.initrdToolNames}); install one in it first`,
      );
    }
    for (const kernel of kernels) {
      const config = tree.read(`/boot/config-${kernel.version}`);
      const onLvm = guest.rootVolume !== undefined;
      const required = requiredModules(guest.rootFsType, config, onLvm);
      const { missing, unreadable } = await missingFromInitrd(tree, kernel.version, kernel.initrd, required);
      if (missing.length === 0) continue;
      // Never handed to the guest's own lister: what the host cannot read is rebuilt, and said so.
      if (unreadable) warn(`${kernel.initrd} cannot be read on the host (${unreadable}): it is rebuilt`);
      const initrd = kernel.initrd ?? tool.defaultInitrd(kernel.version);
      // The Xen-era initrd stays beside the new one; a backup an earlier run made is the original.
      if (kernel.initrd && !tree.exists(`${kernel.initrd}${INITRD_BACKUP_SUFFIX}`)) {
        command({
          argv: ['cp', '-p', kernel.initrd, `${kernel.initrd}${INITRD_BACKUP_SUFFIX}`],
          why: `keep the initrd ${tool.name} replaces as a backup`,
          timeout: 'copy',
          touches: [`${kernel.initrd}${INITRD_BACKUP_SUFFIX}`],
        });
      }
      command({
        argv: tool.rebuild(kernel.version, initrd, rootModules(guest.rootFsType, config, onLvm)),
        why: unreadable
          ? `${initrd} cannot be read on the host, so it may lack ${missing.join(', ')}`
          : `${initrd} lacks ${missing.join(', ')}`,
        timeout: 'initrd',
        harmless: tool.harmless,
        // /boot whole: an interrupted rebuild can leave initrd.img-VERSION.new beside the initrd.
        touches: ['/boot', ...tool.stateFiles(kernel.version), GUEST_TMPDIR],
        check: { kind: 'initrd-holds', tool: tool.name, kernel: kernel.version, initrd, modules: required },
      });
    }
  },
};
