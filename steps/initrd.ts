/**
 * Rebuilds the initrd of every bootable (non-Xen-only) kernel whose initrd lacks the virtio block
 * driver or the root filesystem's driver, with the guest's own tool inside the chroot, and checks
 * the result: a module still missing afterwards is an error whatever the tool's exit code said.
 */
import { UserError } from '../src/errors.js';
import { findInitrdTool, missingFromInitrd, requiredModules } from '../src/guest/initrd-tools.js';
import type { Step } from '../src/pipeline/types.js';

export const initrdStep: Step = {
  id: 'initrd',
  title: 'Rebuild the initrd with virtio drivers',
  async plan({ tree, guest, inspect, command }) {
    const kernels = guest.kernels.filter((k) => !k.xenOnly && tree.exists(`/lib/modules/${k.version}`));
    if (kernels.length === 0) return;
    const tool = findInitrdTool(tree);
    if (!tool) {
      throw new UserError(
        `${guest.label}: the guest has no initrd tool xen2kvm can drive (update-initramfs); install initramfs-tools in it first`,
      );
    }
    const required = requiredModules(guest.rootFsType);
    for (const kernel of kernels) {
      const missing = await missingFromInitrd(inspect, tree, tool, kernel.version, kernel.initrd, required);
      if (missing.length === 0) continue;
      const initrd = kernel.initrd ?? `/boot/initrd.img-${kernel.version}`;
      command({
        argv: tool.rebuild(kernel.version),
        why: `${initrd} lacks ${missing.join(', ')}`,
        timeout: 'initrd',
        touches: [initrd, ...tool.stateFiles(kernel.version)],
        check: {
          describe: `${initrd} holds ${required.join(', ')}`,
          async run() {
            const still = await missingFromInitrd(inspect, tree, tool, kernel.version, initrd, required);
            if (still.length > 0) {
              throw new UserError(`${tool.name} finished but ${initrd} still lacks ${still.join(', ')}`);
            }
          },
        },
      });
    }
  },
};
