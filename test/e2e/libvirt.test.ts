/**
 * The XML starts on a real libvirt host as written. The converted Debian guest is defined and
 * started by xen2kvm itself (migrate --define --start, xml --define --start) in a libvirtd the test
 * starts, with no edit to the XML; its serial console reaches a login and it gets an address from
 * the dnsmasq of the bridge its Xen bridge was mapped to: a Linux bridge, then an Open vSwitch
 * bridge with the VLAN tag of a Xen `bridge=NAME.N`. Then: a name defined twice, no daemon,
 * `xml --emit qemu` run as printed, and two Xen HVM guests (PV-on-HVM and emulated disks) converted
 * and started the same way.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { type BootSlot, takeBootSlot } from '../../src/verify/boot-slot.js';
import { bootTimeoutSeconds, runCli } from '../helpers/cli.js';
import { leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import {
  type DhcpNetwork,
  LibvirtHost,
  leaseFor,
  readConsoleUntil,
  waitForOutput,
} from '../helpers/libvirt-host.js';
import { paced, testDeadline } from '../helpers/machine-pace.js';

const BOOT_TEST_TIMEOUT = testDeadline(12 * 60);
const LOGIN = /login:\s*$/m;

/** A Xen PV configuration of the fixture guest: its name, its NIC's MAC and Xen bridge. */
function xenConfig(dir: string, name: string, mac: string, bridge: string): string {
  const path = join(dir, `${name}.cfg`);
  writeFileSync(
    path,
    [
      `name = "${name}"`,
      'memory = 512',
      'vcpus = 1',
      `vif = [ 'mac=${mac},bridge=${bridge}' ]`,
      `disk = [ 'file:/srv/xen/${name}.img,xvda,w' ]`,
      '',
    ].join('\n'),
  );
  return path;
}

async function ovsPortTag(port: string): Promise<string> {
  return (await execa('ovs-vsctl', ['get', 'port', port, 'tag'])).stdout.trim();
}

describe('the converted guest on a real libvirt host', () => {
  let dir: string;
  let source: string;
  let converted: string;
  let host: LibvirtHost;
  let linuxNet: DhcpNetwork;
  let vlanNet: DhcpNetwork;
  let slot: BootSlot | undefined;

  beforeAll(async () => {
    // Under /var/lib/libvirt/images: libvirt's qemu runs as libvirt-qemu, which must reach the image.
    mkdirSync('/var/lib/libvirt/images', { recursive: true });
    dir = mkdtempSync('/var/lib/libvirt/images/x2k-test-');
    chmodSync(dir, 0o755);
    source = await workingCopy('debian12-xen-pv', join(dir, 'xen.raw'));
    converted = join(dir, 'kvm.raw');
    host = await LibvirtHost.start(join(dir, 'host'));
    linuxNet = await host.linuxBridge('br-x2k', 77);
    vlanNet = await host.ovsBridgeWithVlan('ovsx2k', 42, 42);
  });

  // A boot test that fails before it stops its guest still gives the boot slot back: the next one
  // would otherwise wait for it for ever.
  afterEach(() => releaseSlot());

  afterAll(async () => {
    slot?.release();
    await host?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Boots under TCG take the host's boot slot, as the boot check does. */
  async function bootSlot(): Promise<void> {
    slot = await takeBootSlot();
  }
  function releaseSlot(): void {
    slot?.release();
    slot = undefined;
  }

  /** The running domain's console reaches a login and its NIC gets an address on `network`; then it is stopped. */
  async function expectLoginAndAddress(domain: string, network: DhcpNetwork, mac: string, subnet: RegExp) {
    const console = await readConsoleUntil(await host.consolePty(domain), LOGIN, bootTimeoutSeconds());
    expect(console).toMatch(/xen-guest login:/);
    expect(await leaseFor(network, mac, paced(120))).toMatch(subnet);
    expect((await host.virsh(['destroy', domain])).exitCode).toBe(0);
    releaseSlot();
  }

  it('a dry-run with --start lists the virsh commands it would run, and asks no daemon', async () => {
    const nowhere = `qemu:///system?socket=${join(dir, 'nothing-here')}`;
    const run = await runCli(['migrate', '--dry-run', '--start', '--connect', nowhere, source]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain(`then in libvirt: virsh -c '${nowhere}' define ${join(dir, 'xen.xml')}\n`);
    expect(run.stdout).toContain(`then in libvirt: virsh -c '${nowhere}' start xen`);
  });

  it('with no libvirt daemon, migrate --define refuses in one line before converting anything', async () => {
    const web = xenConfig(dir, 'x2kweb', '00:16:3e:10:00:01', 'xenbr0');
    const run = await runCli([
      'migrate',
      '--yes',
      '--output',
      converted,
      '--xen-config',
      web,
      '--bridge',
      'xenbr0=br-x2k',
      '--define',
      '--connect',
      `qemu:///system?socket=${join(dir, 'nothing-here')}`,
      source,
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: no libvirt daemon reachable at qemu:\/\/\/system\?socket=\S+nothing-here \(.+\); start libvirtd \(or virtqemud\) there, or define x2kweb where it runs: virsh define \S+x2kweb\.xml$/,
    );
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(converted)).toBe(false);
    expect(await leftovers(source)).toEqual(NOTHING_LEFT);
  });

  it(
    'migrate --define --start: libvirt starts it from the XML as written, its console reaches a login, and the Linux bridge gives it an address',
    async () => {
      await bootSlot();
      const run = await runCli([
        'migrate',
        '--yes',
        '--output',
        converted,
        '--xen-config',
        join(dir, 'x2kweb.cfg'),
        '--bridge',
        'xenbr0=br-x2k',
        '--start',
        '--connect',
        host.uri,
        source,
      ]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain(`defined libvirt domain x2kweb at ${host.uri}, and started it`);
      await expectLoginAndAddress('x2kweb', linuxNet, '00:16:3e:10:00:01', /^10\.77\.0\.\d+$/);
    },
    BOOT_TEST_TIMEOUT,
  );

  it('a name already defined is refused in one line; --replace redefines it with the same uuid', async () => {
    const uuid = (await host.virsh(['domuuid', 'x2kweb'])).stdout.trim();
    const args = [
      'xml',
      join(dir, 'x2kweb.cfg'),
      '--image',
      converted,
      '--bridge',
      'xenbr0=br-x2k',
      '--define',
      '--connect',
      host.uri,
    ];
    const again = await runCli(args);
    expect(again.exitCode).toBe(1);
    expect(again.stderr.trim().split('\n').pop()).toBe(
      `xen2kvm: a domain named x2kweb is already defined at ${host.uri} (shut off); add --replace to redefine it (its disks are kept), or choose another --name`,
    );
    const replaced = await runCli([...args, '--replace']);
    expect(replaced.exitCode, replaced.stderr).toBe(0);
    expect(replaced.stderr).toContain(`redefined libvirt domain x2kweb at ${host.uri}`);
    expect((await host.virsh(['domuuid', 'x2kweb'])).stdout.trim()).toBe(uuid);
    expect(
      (await host.virsh(['list', '--all', '--name'])).stdout.split('\n').filter((n) => n === 'x2kweb'),
    ).toHaveLength(1);
  });

  it(
    'xml --define --start on Open vSwitch: the port carries the VLAN tag of bridge=NAME.N, and the guest gets an address on that VLAN',
    async () => {
      await bootSlot();
      const ovs = xenConfig(dir, 'x2kovs', '00:16:3e:10:00:02', 'xenbr1.42');
      const run = await runCli([
        'xml',
        ovs,
        '--image',
        converted,
        '--bridge',
        'xenbr1=ovs:ovsx2k',
        '--output',
        join(dir, 'x2kovs.xml'),
        '--start',
        '--connect',
        host.uri,
      ]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(await ovsPortTag(await host.firstInterface('x2kovs'))).toBe('42');
      await expectLoginAndAddress('x2kovs', vlanNet, '00:16:3e:10:00:02', /^10\.42\.0\.\d+$/);
    },
    BOOT_TEST_TIMEOUT,
  );

  it(
    'xml --emit qemu runs as printed: its tap joins the OVS bridge with the tag, the guest boots and gets an address, and the tap goes when qemu exits',
    async () => {
      await bootSlot();
      const emit = xenConfig(dir, 'x2kemit', '00:16:3e:10:00:03', 'xenbr1.42');
      const script = join(dir, 'x2kemit.sh');
      const made = await runCli([
        'xml',
        emit,
        '--image',
        converted,
        '--bridge',
        'xenbr1=ovs:ovsx2k',
        '--emit',
        'qemu',
        '--output',
        script,
      ]);
      expect(made.exitCode, made.stderr).toBe(0);
      const qemu = execa('ip', ['netns', 'exec', host.ns, 'sh', script], {
        reject: false,
        buffer: false,
        stdin: 'pipe',
      });
      try {
        if (!qemu.stdout) throw new Error('no stdout');
        const console = await waitForOutput(qemu.stdout, LOGIN, bootTimeoutSeconds());
        expect(console).toMatch(/xen-guest login:/);
        expect(await ovsPortTag('x2kemit-0')).toBe('42');
        expect(await leaseFor(vlanNet, '00:16:3e:10:00:03', paced(120))).toMatch(/^10\.42\.0\.\d+$/);
        // Ctrl-A x: qemu's own way out of a stdio console.
        qemu.stdin?.write('\x01x');
        expect((await qemu).exitCode).toBe(0);
      } finally {
        qemu.kill('SIGKILL');
      }
      expect((await execa('ovs-vsctl', ['list-ports', 'ovsx2k'])).stdout.split('\n')).not.toContain(
        'x2kemit-0',
      );
      expect(
        (await execa('ip', ['-n', host.ns, 'link', 'show', 'x2kemit-0'], { reject: false })).exitCode,
      ).not.toBe(0);
      releaseSlot();
    },
    BOOT_TEST_TIMEOUT,
  );

  it('what the mapping carries, the qemu driver takes: SPICE, serial ports, channels, timers, sound, trunks and a vifname start as written', async () => {
    const cfg = join(dir, 'x2kall.cfg');
    writeFileSync(join(dir, 'rescue.iso'), '');
    writeFileSync(
      cfg,
      [
        'name = "x2kall"',
        'type = "hvm"',
        'description = "all of it"',
        'memory = 256',
        'vcpus = 1',
        'maxvcpus = 2',
        'boot = "dc"',
        'rtc_timeoffset = 3600',
        'hpet = 0',
        'tsc_mode = "native"',
        'spice = 1',
        'spicehost = "127.0.0.1"',
        'spiceport = 6190',
        'spicepasswd = "s3cret"',
        'spicevdagent = 1',
        'spice_clipboard_sharing = 1',
        'spiceusbredirection = 1',
        `serial = [ "pty", "tcp:127.0.0.1:7790,server,nowait", "unix:${join(dir, 'x2kall-2.sock')},server,nowait", "file:${join(dir, 'x2kall-3.log')}" ]`,
        `channel = [ "name=org.qemu.guest_agent.0,connection=socket,path=${join(dir, 'x2kall-ga.sock')}" ]`,
        'usbdevice = [ "tablet", "mouse" ]',
        'soundhw = "hda"',
        "vif = [ 'mac=00:16:3e:10:00:06,bridge=ovsx2k:42:43,vifname=x2kall-e0,script=vif-openvswitch' ]",
        `disk = [ 'file:/srv/xen/x2kall.img,xvda,w', '${join(dir, 'rescue.iso')},raw,hdc,ro,devtype=cdrom' ]`,
        '',
      ].join('\n'),
    );
    const run = await runCli([
      'xml',
      cfg,
      '--image',
      converted,
      '--output',
      join(dir, 'x2kall.xml'),
      '--start',
      '--connect',
      host.uri,
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect((await host.virsh(['domstate', 'x2kall'])).stdout.trim()).toBe('running');
    const live = (await host.virsh(['dumpxml', 'x2kall'])).stdout;
    expect(live).toMatch(/<graphics type='spice' port='6190'/);
    expect(live).toContain("<timer name='tsc' mode='native'/>");
    expect(live).toContain("<target dev='x2kall-e0'/>");
    expect((await execa('ovs-vsctl', ['get', 'port', 'x2kall-e0', 'trunks'])).stdout.trim()).toBe('[42, 43]');
    expect((await host.virsh(['destroy', 'x2kall'])).exitCode).toBe(0);
  });

  /**
   * A Xen HVM guest: its disk boots by itself (GRUB in the MBR), so the conversion renames its
   * disk in fstab, the boot menu and device.map and rebuilds its initrd, but installs no bootloader;
   * the XML keeps BIOS, the i440fx machine and booting from the disk.
   */
  async function convertAndStartHvm(
    fixture: 'debian12-xen-hvm' | 'debian12-xen-hvm-sda',
    name: string,
    config: string[],
  ) {
    await bootSlot();
    const image = await workingCopy(fixture, join(dir, `${name}-xen.raw`));
    const cfg = join(dir, `${name}.cfg`);
    writeFileSync(cfg, `${config.join('\n')}\n`);
    const run = await runCli([
      'migrate',
      '--yes',
      '--json',
      '--output',
      join(dir, `${name}.raw`),
      '--xen-config',
      cfg,
      '--bridge',
      'xenbr0=br-x2k',
      '--start',
      '--connect',
      host.uri,
      image,
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    rmSync(image, { force: true });
    const report = JSON.parse(run.stdout) as {
      changes: { path: string }[];
      commands: string[][];
      xenSettingsNotCarried: { setting: string; why: string }[];
      libvirt: { started: boolean };
    };
    const changed = report.changes.map((c) => c.path);
    expect(changed).toEqual(
      expect.arrayContaining(['/etc/fstab', '/boot/grub/grub.cfg', '/boot/grub/device.map']),
    );
    expect(
      report.commands.some((argv) => argv.some((word) => /grub-install|grub-bios-setup/.test(word))),
    ).toBe(false);
    expect(report.commands.some((argv) => argv.includes('update-initramfs'))).toBe(true);
    expect(report.libvirt.started).toBe(true);
    const defined = (await host.virsh(['dumpxml', name])).stdout;
    expect(defined).toMatch(/<type arch='x86_64' machine='pc-i440fx-[^']+'>hvm<\/type>/);
    expect(defined).toContain("<boot dev='hd'/>");
    expect(defined).not.toContain('firmware=');
    // The converted image stands for the guest's one Xen disk, whatever it was called there.
    expect(defined.match(/<disk type=/g)).toHaveLength(1);
    expect(defined).toMatch(/<target dev='vda' bus='virtio'\/>/);
    return { report, defined };
  }

  it(
    'a Xen HVM guest with PV-on-HVM drivers (xvda2, console ttyS0) converts without a new bootloader and starts under libvirt: login and an address',
    async () => {
      const { report } = await convertAndStartHvm('debian12-xen-hvm', 'x2khvm', [
        'name = "x2khvm"',
        'type = "hvm"',
        'memory = 512',
        'vcpus = 1',
        'boot = "c"',
        'serial = "pty"',
        'xen_platform_pci = 1',
        "vif = [ 'mac=00:16:3e:10:00:04,bridge=xenbr0,model=e1000' ]",
        "disk = [ 'phy:/dev/vg0/x2khvm,xvda,w' ]",
      ]);
      expect(report.xenSettingsNotCarried.map((s) => s.setting)).toEqual(['xen_platform_pci']);
      await expectLoginAndAddress('x2khvm', linuxNet, '00:16:3e:10:00:04', /^10\.77\.0\.\d+$/);
    },
    BOOT_TEST_TIMEOUT,
  );

  it(
    'a Xen HVM guest on emulated disks (sda2, console tty0) converts the same way, gains a serial console, and starts under libvirt: login and an address',
    async () => {
      const { defined } = await convertAndStartHvm('debian12-xen-hvm-sda', 'x2khvmsda', [
        'name = "x2khvmsda"',
        'builder = "hvm"',
        'memory = 512',
        'vcpus = 1',
        'vnc = 1',
        'vncunused = 1',
        "vif = [ 'mac=00:16:3e:10:00:05,bridge=xenbr0,type=ioemu' ]",
        "disk = [ 'file:/srv/xen/x2khvmsda.img,hda,w' ]",
      ]);
      expect(defined).toMatch(/<graphics type='vnc'/);
      await expectLoginAndAddress('x2khvmsda', linuxNet, '00:16:3e:10:00:05', /^10\.77\.0\.\d+$/);
    },
    BOOT_TEST_TIMEOUT,
  );
});
