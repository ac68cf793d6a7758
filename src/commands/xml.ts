/**
 * `xen2kvm xml CONFIG`: a Xen guest configuration alone, converted to libvirt domain XML on stdout
 * (the job of `virsh domxml-from-native`, without a Xen host), or to a qemu command line.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { HostCommandRunner } from '../exec.js';
import type { BootMode } from '../pipeline/types.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { loadXenConfig } from '../xen/load.js';
import { buildDomainXml, type NicSource } from '../xml/domain.js';
import { type DomainTypeChoice, resolveDomainType, softwareEmulationReason } from '../xml/domain-type.js';
import { type BridgeTarget, domainFromXen } from '../xml/from-xen.js';
import { defineDomain, definedLine, type LibvirtRequest } from '../xml/libvirt.js';
import { qemuScript } from '../xml/qemu-command.js';

export interface XmlOptions {
  config: string;
  domainType: DomainTypeChoice;
  bridges: Map<string, BridgeTarget>;
  defaultNic: NicSource;
  boot: BootMode;
  image?: string;
  name?: string;
  memoryMiB?: number;
  vcpus?: number;
  emit: 'libvirt' | 'qemu';
  output?: string;
  /** --define/--start: what to ask of libvirt once the XML is written. */
  libvirt?: LibvirtRequest;
}

export async function convertXml(options: XmlOptions, io: CliIo): Promise<number> {
  if (options.libvirt && options.emit === 'qemu')
    throw new UserError('--define and --start need libvirt XML: drop --emit qemu', 2);
  const config = await loadXenConfig(options.config);
  const { spec, warnings } = domainFromXen(config, {
    type: await resolveDomainType(options.domainType),
    hostCpus: availableParallelism(),
    bridges: options.bridges,
    defaultNic: options.defaultNic,
    image: options.image ? resolve(options.image) : undefined,
    boot: options.boot,
    name: options.name,
    memoryMiB: options.memoryMiB,
    vcpus: options.vcpus,
  });
  const typeReason = await softwareEmulationReason(options.domainType);
  for (const warning of typeReason ? [typeReason, ...warnings] : warnings)
    writeLine(io.stderr, `warning: ${warning}`);
  let text: string;
  if (options.emit === 'qemu') {
    const script = qemuScript(spec);
    for (const note of script.notes) writeLine(io.stderr, `note: ${note}`);
    text = script.text;
  } else {
    text = buildDomainXml(spec);
  }
  if (options.output) await writeFile(options.output, text);
  else io.stdout.write(text);
  if (options.libvirt) {
    // virsh reads a file: the one written, else a private one in TMPDIR, removed afterwards.
    const scratch = options.output ? undefined : await mkdtemp(join(tmpdir(), 'xen2kvm-define-'));
    const path = options.output ?? join(scratch as string, `${spec.name}.xml`);
    try {
      if (scratch) await writeFile(path, text);
      const later = options.output
        ? `virsh define ${options.output}`
        : `xen2kvm xml ${options.config} --output FILE, then virsh define FILE`;
      const done = await defineDomain(
        new HostCommandRunner(),
        options.libvirt,
        { xmlPath: path, name: spec.name, uuid: spec.uuid },
        later,
      );
      writeLine(io.stderr, definedLine(done));
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }
  return 0;
}
