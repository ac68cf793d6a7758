/**
 * SELinux guests get /.autorelabel: files written from the host carry no security labels, and a
 * relabel on the first boot under KVM gives every file the one its policy expects.
 */
import type { Step } from '../src/pipeline/types.js';

/** Whether /etc/selinux/config turns SELinux on (enforcing or permissive). */
export function selinuxEnabled(config: string | undefined): boolean {
  return /^\s*SELINUX\s*=\s*(enforcing|permissive)\s*$/m.test(config ?? '');
}

export const selinuxStep: Step = {
  id: 'selinux',
  title: 'Relabel SELinux files on the first boot',
  plan({ tree }) {
    if (!selinuxEnabled(tree.read('/etc/selinux/config')) || tree.exists('/.autorelabel')) return;
    tree.write('/.autorelabel', '', 'SELinux is on: relabel the files written from the host');
  },
};
