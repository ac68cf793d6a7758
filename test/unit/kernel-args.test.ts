import { describe, expect, it } from 'vitest';
import { firstDiskPartition, toKvmDevice } from '../../src/guest/device-names.js';
import { convertKernelArgs } from '../../src/guest/kernel-args.js';

describe('kernel arguments', () => {
  const complete = { extra: [], complete: true };
  it('moves root and the console, drops Xen-only options, keeps the rest in order', () => {
    expect(convertKernelArgs('root=/dev/xvda2 ro xencons=tty console=hvc0 quiet', complete)).toBe(
      'root=/dev/vda2 ro console=ttyS0,115200 quiet',
    );
  });
  it('turns several Xen consoles into one serial console', () => {
    expect(convertKernelArgs('console=xvc0 console=hvc0,9600', complete)).toBe('console=ttyS0,115200');
  });
  it('keeps a VGA console and adds ttyS0 last so /dev/console is the serial port', () => {
    expect(convertKernelArgs('root=UUID=abc console=tty0', complete)).toBe(
      'root=UUID=abc console=tty0 console=ttyS0,115200',
    );
  });
  it('adds extras once, and not at all when asked only to convert', () => {
    const policy = { extra: ['net.ifnames=0'], complete: true };
    const once = convertKernelArgs('root=/dev/xvda1', policy);
    expect(once).toBe('root=/dev/vda1 console=ttyS0,115200 net.ifnames=0');
    expect(convertKernelArgs(once, policy)).toBe(once);
    expect(convertKernelArgs('quiet', { extra: ['net.ifnames=0'], complete: false })).toBe('quiet');
  });
  it('leaves an operator-chosen net.ifnames value alone', () => {
    expect(convertKernelArgs('net.ifnames=1', { extra: ['net.ifnames=0'], complete: true })).toBe(
      'net.ifnames=1 console=ttyS0,115200',
    );
  });
});

describe('device names', () => {
  it('maps xvd disks and partitions to vd, keeping the letter', () => {
    expect(toKvmDevice('/dev/xvda')).toBe('/dev/vda');
    expect(toKvmDevice('/dev/xvdb12')).toBe('/dev/vdb12');
    expect(toKvmDevice('root=/dev/xvdaa3')).toBe('root=/dev/vdaa3');
    expect(toKvmDevice('/dev/xvdaX')).toBe('/dev/xvdaX');
  });
  it('finds the partition number of first-disk names', () => {
    expect(firstDiskPartition('/dev/xvda2')).toBe(2);
    expect(firstDiskPartition('/dev/vda1')).toBe(1);
    expect(firstDiskPartition('/dev/xvdb1')).toBeUndefined();
  });
});
