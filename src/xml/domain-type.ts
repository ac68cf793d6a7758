/**
 * The domain type the XML asks for. `auto` takes kvm where /dev/kvm can be opened for reading and
 * writing (the probe the boot check starts from), else qemu: a host without usable KVM (a nested
 * host, a CI runner) then still starts the guest, under software emulation.
 */
import { kvmUsable } from '../verify/boot-check.js';
import type { DomainType } from './domain.js';

export type DomainTypeChoice = DomainType | 'auto';

export async function resolveDomainType(choice: DomainTypeChoice): Promise<DomainType> {
  if (choice !== 'auto') return choice;
  return (await kvmUsable()) ? 'kvm' : 'qemu';
}
