/**
 * The domain type the XML asks for. `auto` takes kvm where KVM runs a kernel here (kvm-probe.ts:
 * the same probe the boot check and the appliance start from), else qemu: a host without usable
 * KVM (a nested host, a CI runner, a /dev/kvm that hangs) then still starts the guest, under
 * software emulation.
 */
import { kvmWorks } from '../verify/kvm-probe.js';
import type { DomainType } from './domain.js';

export type DomainTypeChoice = DomainType | 'auto';

export async function resolveDomainType(choice: DomainTypeChoice): Promise<DomainType> {
  if (choice !== 'auto') return choice;
  return (await kvmWorks()).ok ? 'kvm' : 'qemu';
}

/** Why `auto` chose software emulation, for the warnings; undefined when it chose kvm or was told. */
export async function softwareEmulationReason(choice: DomainTypeChoice): Promise<string | undefined> {
  if (choice !== 'auto') return undefined;
  const kvm = await kvmWorks();
  return kvm.ok
    ? undefined
    : `type qemu (software emulation), as ${kvm.why}; on a KVM host give --domain-type kvm`;
}
