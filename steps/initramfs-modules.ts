/**
 * The initrd tool's own configuration, so that every initrd built from now on (by xen2kvm, by a
 * kernel package's hooks, by the guest's next kernel update) holds the virtio drivers and the root
 * filesystem's driver. initramfs-tools: listed in /etc/initramfs-tools/modules, and MODULES=dep
 * replaced, since inside a chroot `dep` probes the host's hardware, not the guest's. dracut: a
 * drop-in with add_drivers, which holds in its host-only mode too (that one probes the host as well).
 */

import { rootModules } from '../src/guest/initrd-tools.js';
import { VIRTIO_DRIVERS } from '../src/guest/kvm-target.js';
import { rewriteAssignments } from '../src/guest/shell-assignments.js';
import type { Step } from '../src/pipeline/types.js';

const MODULES_FILE = '/etc/initramfs-tools/modules';
const DRACUT_DROP_IN = '/etc/dracut.conf.d/90-xen2kvm-virtio.conf';
const CONF_FILES = ['/etc/initramfs-tools/initramfs.conf'];
const CONF_DIR = '/etc/initramfs-tools/conf.d';

export function addInitramfsModules(text: string, modules: readonly string[]): string {
  const listed = new Set(
    text
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0]?.replaceAll('-', '_'))
      .filter((name): name is string => Boolean(name) && !name?.startsWith('#')),
  );
  const missing = modules.filter((m) => !listed.has(m.replaceAll('-', '_')));
  if (missing.length === 0) return text;
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${base}# KVM: virtio disk and network, and the root filesystem\n${missing.join('\n')}\n`;
}

/** MODULES=dep picks drivers for the machine it runs on: in a chroot that is the host. */
export function replaceModulesDep(text: string): string {
  return rewriteAssignments(text, /MODULES/, (value) => (value === 'dep' ? 'most' : value), { bare: 'keep' });
}

/** A dracut configuration drop-in that adds the modules to every initrd it builds. */
export function dracutDropIn(modules: readonly string[]): string {
  return `# KVM: virtio disk and network, and the root filesystem\nadd_drivers+=" ${modules.join(' ')} "\n`;
}

export const initramfsModulesStep: Step = {
  id: 'initramfs-modules',
  title: 'List the virtio drivers for the initramfs',
  plan({ tree, guest }) {
    const config = guest.bootKernel ? tree.read(`/boot/config-${guest.bootKernel}`) : undefined;
    const modules = [
      ...VIRTIO_DRIVERS,
      ...rootModules(guest.rootFsType, config, guest.rootVolume !== undefined),
    ];
    if (
      guest.profile.initrdTool(tree)?.name === 'dracut' &&
      tree.exists('/etc/dracut.conf.d') &&
      !tree.isFile('/etc/dracut.conf.d')
    ) {
      tree.write(DRACUT_DROP_IN, dracutDropIn(modules), 'virtio drivers in every initrd dracut builds');
    }
    if (!tree.exists('/etc/initramfs-tools')) return;
    tree.write(
      MODULES_FILE,
      addInitramfsModules(tree.read(MODULES_FILE) ?? '', modules),
      'virtio drivers at boot',
    );
    const confs = [...CONF_FILES, ...tree.list(CONF_DIR).map((name) => `${CONF_DIR}/${name}`)];
    for (const path of confs) {
      tree.rewrite(path, replaceModulesDep, 'MODULES=dep probes the host in a chroot');
    }
  },
};
