/**
 * Network configuration that pins the Xen NIC by its MAC address: udev's 70-persistent-net.rules
 * (which would name the virtio NIC eth1 when the MAC differs) and HWADDR= in Red Hat and SUSE ifcfg
 * files (which would leave the interface down). The rules are commented out, so udev names the
 * first NIC eth0 again (with net.ifnames=0 on the kernel line); HWADDR= lines are commented out,
 * so the configuration applies to whatever NIC has the name.
 */
import type { Step } from '../src/pipeline/types.js';

const UDEV_RULES = [
  '/etc/udev/rules.d/70-persistent-net.rules',
  '/etc/udev/rules.d/z25_persistent-net.rules',
];
const IFCFG_DIRS = ['/etc/sysconfig/network-scripts', '/etc/sysconfig/network'];
const NOTE = '# xen2kvm: the MAC below belonged to the Xen NIC';

/** Comments out every rule that names a NIC by its MAC address. */
export function rewritePersistentNetRules(text: string): string {
  return text
    .split('\n')
    .map((line) => (/^\s*[^#].*ATTR\{address\}==/.test(line) && /\bNAME=/.test(line) ? `#${line}` : line))
    .join('\n');
}

/** Comments out HWADDR= (and MACADDR=-less LLADDR=) lines of an ifcfg file. */
export function rewriteIfcfg(text: string): string {
  if (!/^\s*(HWADDR|LLADDR)=/m.test(text)) return text;
  return text.replace(/^(\s*)((?:HWADDR|LLADDR)=.*)$/gm, `$1${NOTE}\n$1#$2`);
}

export const networkStep: Step = {
  id: 'network',
  title: "Unpin the Xen NIC's MAC address",
  plan({ tree }) {
    for (const path of UDEV_RULES) {
      tree.rewrite(path, rewritePersistentNetRules, 'udev named the NIC by its Xen MAC');
    }
    for (const dir of IFCFG_DIRS) {
      for (const name of tree.list(dir).filter((n) => /^ifcfg-/.test(n) && n !== 'ifcfg-lo')) {
        tree.rewrite(`${dir}/${name}`, rewriteIfcfg, 'HWADDR ties the interface to the Xen NIC');
      }
    }
  },
};
