/**
 * After the steps: the libvirt domain XML, written beside the image as NAME.xml. From the guest's own Xen
 * configuration when one is given (identity, shape, NICs, VNC), else from the flags.
 */
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { XenGuestConfig } from '../xen/guest-config.js';
import {
  buildDomainXml,
  type DomainSpec,
  type DomainType,
  domainNameFor,
  type NicSource,
  simpleDomain,
} from './domain.js';
import { type BridgeTarget, domainFromXen } from './from-xen.js';

export interface DomainOptions {
  /** kvm or qemu, as resolved from --domain-type (see domain-type.ts). */
  type: DomainType;
  /** Why --domain-type auto chose qemu on this host, when it did (a warning). */
  typeReason?: string;
  name?: string;
  memoryMiB?: number;
  vcpus?: number;
  /** libvirt network for NICs with no bridge. */
  network: string;
  /** Host bridge for NICs with no bridge of their own (instead of the network). */
  bridge?: string;
  /** Xen bridge -> KVM bridge mappings. */
  bridges: Map<string, BridgeTarget>;
  xmlPath?: string;
  /** Where NAME.xml goes when xmlPath is not given (default: beside the image). */
  xmlDir?: string;
  xen?: XenGuestConfig;
  /** Format of the image the XML points at (a qcow2 overlay in copy mode). */
  diskFormat?: string;
  /** The partition numbers the converted image holds, to match it with the Xen disks it replaces. */
  imagePartitions?: readonly number[];
  /** Volumes laid out anew (a partitionless guest): the disks, vda first, and the Xen devices they replace. */
  laidOut?: { disks: string[]; absorbed: string[] };
  /** Direct kernel boot: the kernel and initrd copied out of the guest, and its command line. */
  directKernel?: { kernel: string; initrd?: string; cmdline: string };
}

export const DEFAULT_MEMORY_MIB = 1024;

export function defaultNic(options: Pick<DomainOptions, 'network' | 'bridge'>): NicSource {
  return options.bridge
    ? { type: 'bridge', name: options.bridge }
    : { type: 'network', name: options.network };
}

export function planDomainXml(
  image: string,
  options: DomainOptions,
): { path: string; content: string; warnings: string[]; name: string; uuid?: string } {
  const diskPath = resolve(image);
  let spec: DomainSpec;
  let warnings: string[] = [];
  if (options.xen) {
    const mapped = domainFromXen(options.xen, {
      type: options.type,
      hostCpus: availableParallelism(),
      bridges: options.bridges,
      defaultNic: defaultNic(options),
      image: diskPath,
      imageFormat: options.diskFormat ?? 'raw',
      imagePartitions: options.imagePartitions,
      laidOut: options.laidOut,
      boot: options.directKernel ? 'direct' : 'guest',
      directKernel: options.directKernel,
      name: options.name,
      memoryMiB: options.memoryMiB,
      vcpus: options.vcpus,
    });
    spec = mapped.spec;
    warnings = mapped.warnings;
  } else {
    spec = simpleDomain({
      type: options.type,
      name: options.name ?? domainNameFor(diskPath),
      diskPath,
      memoryMiB: options.memoryMiB ?? DEFAULT_MEMORY_MIB,
      vcpus: options.vcpus ?? 1,
      network: defaultNic(options),
      format: options.diskFormat ?? 'raw',
      moreDisks: options.laidOut?.disks.slice(1),
      directKernel: options.directKernel,
    });
  }
  if (options.typeReason) warnings = [options.typeReason, ...warnings];
  const path = options.xmlPath
    ? resolve(options.xmlPath)
    : join(options.xmlDir ?? dirname(diskPath), `${spec.name}.xml`);
  return { path, content: buildDomainXml(spec), warnings, name: spec.name, uuid: spec.uuid };
}
