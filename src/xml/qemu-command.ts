/** The qemu command line equivalent to a domain, for hosts without libvirt. */
import { shellQuote } from '../exec.js';
import type { DomainSpec } from './domain.js';

export function qemuCommand(spec: DomainSpec): { argv: string[]; notes: string[] } {
  const notes: string[] = [];
  // TCG cannot pass the host's CPU through: it emulates the most it can (max).
  const accel =
    spec.type === 'kvm'
      ? ['-machine', 'pc,accel=kvm', '-cpu', 'host']
      : ['-machine', 'pc,accel=tcg', '-cpu', 'max'];
  const argv = ['qemu-system-x86_64', '-name', spec.name, ...accel];
  if (spec.uuid) argv.push('-uuid', spec.uuid);
  argv.push(
    '-m',
    spec.maxMemoryMiB > spec.memoryMiB
      ? `${spec.memoryMiB}M,maxmem=${spec.maxMemoryMiB}M,slots=1`
      : `${spec.memoryMiB}M`,
  );
  argv.push(
    '-smp',
    spec.maxVcpus > spec.vcpus ? `${spec.vcpus},maxcpus=${spec.maxVcpus}` : String(spec.vcpus),
  );
  if (spec.localtime) argv.push('-rtc', 'base=localtime');
  if (spec.boot.type === 'direct') {
    argv.push('-kernel', spec.boot.kernel);
    if (spec.boot.initrd) argv.push('-initrd', spec.boot.initrd);
    if (spec.boot.cmdline) argv.push('-append', spec.boot.cmdline);
  }
  for (const disk of spec.disks) {
    const opts = [`file=${disk.source}`, `format=${disk.format}`, disk.cdrom ? 'media=cdrom' : 'if=virtio'];
    if (disk.cdrom) opts.push('if=ide');
    if (disk.readOnly && !disk.cdrom) opts.push('readonly=on');
    argv.push('-drive', opts.join(','));
  }
  spec.nics.forEach((nic, index) => {
    const id = `net${index}`;
    if (nic.source.type === 'bridge' && !nic.source.openvswitch) {
      argv.push('-netdev', `bridge,id=${id},br=${nic.source.name}`);
    } else if (nic.source.type === 'bridge') {
      // vhost where the host has it is qemu's to decide: vhost=on aborts where /dev/vhost-net is missing.
      argv.push('-netdev', `tap,id=${id}`);
      notes.push(
        `${id}: attach its tap to Open vSwitch bridge ${nic.source.name}${nic.source.vlan === undefined ? '' : ` with tag=${nic.source.vlan}`} yourself (qemu has no OVS helper)`,
      );
    } else {
      argv.push('-netdev', `user,id=${id}`);
      notes.push(
        `${id}: libvirt network ${nic.source.name} has no qemu equivalent; user-mode networking is used`,
      );
    }
    argv.push('-device', `virtio-net-pci,netdev=${id}${nic.mac ? `,mac=${nic.mac}` : ''}`);
    if (nic.rateKiBps)
      notes.push(
        `${id}: the Xen rate limit (${nic.rateKiBps} KiB/s) needs tc on the host; qemu does not limit it`,
      );
  });
  argv.push('-serial', 'mon:stdio');
  if (spec.graphics) {
    const display = spec.graphics.port === undefined ? 0 : spec.graphics.port - 5900;
    argv.push('-vnc', `${spec.graphics.listen ?? '127.0.0.1'}:${display}`, '-usb', '-device', 'usb-tablet');
    if (spec.graphics.keymap) argv.push('-k', spec.graphics.keymap);
  } else {
    argv.push('-display', 'none');
  }
  return { argv, notes };
}

/** One option and its value per line, as operators write them in scripts. */
export function formatQemuCommand(argv: readonly string[]): string {
  const lines: string[] = [shellQuote(argv[0] ?? '')];
  for (let i = 1; i < argv.length; i++) {
    const word = argv[i] as string;
    const value = argv[i + 1];
    if (word.startsWith('-') && value !== undefined && !value.startsWith('-')) {
      lines.push(`${shellQuote(word)} ${shellQuote(value)}`);
      i++;
    } else {
      lines.push(shellQuote(word));
    }
  }
  return lines.join(' \\\n  ');
}
