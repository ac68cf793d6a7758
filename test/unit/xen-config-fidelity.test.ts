/**
 * Nothing in a Xen guest's configuration is lost without a word: what has a KVM equivalent is in
 * the XML (which libvirt's schema accepts), everything else present is named in one warning line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { toKvmDevice } from '../../src/guest/device-names.js';
import { parseChannelSpec, parseCharDev, parseDiskSpec, parseVifSpec } from '../../src/xen/device-specs.js';
import { parseXenConfig } from '../../src/xen/load.js';
import { runMain } from '../helpers/in-process.js';

const CORPUS = join(import.meta.dirname, '..', '..', 'fixtures', 'xen-configs');
const scratch = mkdtempSync(join(tmpdir(), 'xml-fidelity-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function xml(file: string, ...flags: string[]) {
  const run = await runMain(['xml', file, '--domain-type', 'kvm', ...flags]);
  expect(run.exitCode, run.stderr).toBe(0);
  const path = join(scratch, `${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(path, run.stdout);
  const check = await execa('virt-xml-validate', [path, 'domain'], { reject: false });
  expect(`${check.stdout}${check.stderr}`.trim()).toMatch(/validates$/);
  const warnings = run.stderr
    .split('\n')
    .filter((line) => line.startsWith('warning: '))
    .map((line) => line.slice('warning: '.length));
  return { xml: run.stdout, warnings };
}

/** The settings the warnings say were not carried over, by name. */
const notCarried = (warnings: string[]) =>
  warnings.map((w) => /^(.+?) is not carried over: /.exec(w)?.[1]).filter(Boolean);

function writeConfig(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

describe('an xl HVM guest using most of xl.cfg(5)', () => {
  const file = join(CORPUS, 'xl-hvm-everything.cfg');
  const flags = ['--bridge', 'ovsbr0=ovs:ovsbr0', '--network', 'routed'];

  it('keeps firmware, boot order, clock, timers, vCPUs and description', async () => {
    const { xml: out } = await xml(file, ...flags);
    expect(out).toContain('<os firmware="efi">');
    expect(out).toMatch(/<boot dev="cdrom"\/>\s*<boot dev="hd"\/>/);
    expect(out).toContain('<vcpu placement="static" cpuset="0-1" current="2">4</vcpu>');
    expect(out).toMatch(
      /<clock offset="variable" adjustment="3600" basis="utc">\s*<timer name="hpet" present="no"\/>\s*<timer name="tsc" mode="native"\/>/,
    );
    expect(out).toContain('<description>web front end, rack 4</description>');
    expect(out).toContain('<on_crash>coredump-restart</on_crash>');
  });

  it('keeps SPICE (ports, password, agent, clipboard, USB redirection) with a QXL card', async () => {
    const { xml: out } = await xml(file, ...flags);
    expect(out).toMatch(
      /<graphics type="spice" port="6000" tlsPort="6001" autoport="no" passwd="s3cret">\s*<listen type="address" address="0.0.0.0"\/>\s*<clipboard copypaste="yes"\/>/,
    );
    expect(out).toContain('<target type="virtio" name="com.redhat.spice.0"/>');
    expect(out.match(/<redirdev bus="usb" type="spicevmc"\/>/g)).toHaveLength(2);
    expect(out).toContain('<model type="qxl"/>');
    expect(out).not.toContain('type="vnc"');
  });

  it('keeps every serial port where it led, the guest agent channel, USB host devices and sound', async () => {
    const { xml: out } = await xml(file, ...flags);
    expect(out).toMatch(/<serial type="pty">\s*<target port="0"\/>/);
    expect(out).toMatch(
      /<serial type="tcp">\s*<source mode="bind" host="127.0.0.1" service="7777"\/>\s*<protocol type="raw"\/>\s*<target port="1"\/>/,
    );
    expect(out).toMatch(
      /<serial type="unix">\s*<source mode="bind" path="\/run\/xen\/everything-2.sock"\/>\s*<target port="2"\/>/,
    );
    expect(out).toMatch(/<serial type="file">\s*<source path="\/var\/log\/xen\/everything-3.log"\/>/);
    expect(out).toMatch(/<console type="pty">\s*<target type="serial" port="0"\/>/);
    expect(out).toMatch(
      /<parallel type="file">\s*<source path="\/var\/log\/xen\/everything-lpt.log"\/>\s*<target port="0"\/>/,
    );
    expect(out).toMatch(
      /<channel type="unix">\s*<source mode="bind" path="\/run\/xen\/everything-ga.sock"\/>\s*<target type="virtio" name="org.qemu.guest_agent.0"\/>/,
    );
    expect(out).toMatch(/<hostdev mode="subsystem" type="usb">\s*<source>\s*<address bus="1" device="3"\/>/);
    expect(out).toContain('<sound model="ich6"/>');
  });

  it('disks: an empty positional format is raw, rbd is a network disk, w! is shareable', async () => {
    const { xml: out } = await xml(file, ...flags);
    expect(out).not.toContain('type=""');
    expect(out).toMatch(/<driver name="qemu" type="raw"\/>\s*<source dev="\/dev\/vg\/everything"\/>/);
    expect(out).toMatch(
      /<disk type="network" device="disk">\s*<driver name="qemu" type="raw"\/>\s*<source protocol="rbd" name="pool\/everything-data">\s*<host name="10.0.0.1" port="6789"\/>\s*<host name="10.0.0.2"\/>/,
    );
    expect(out).toMatch(
      /<driver name="qemu" type="raw" cache="none"\/>\s*<source file="\/srv\/xen\/cluster-shared.img"\/>\s*<target dev="vdc" bus="virtio"\/>\s*<shareable\/>/,
    );
  });

  it('NICs: OVS trunks and the vifname kept; a routed vif put on the default network with a warning', async () => {
    const { xml: out, warnings } = await xml(file, ...flags);
    expect(out).toMatch(
      /<vlan trunk="yes">\s*<tag id="42"\/>\s*<tag id="43"\/>\s*<\/vlan>\s*<virtualport type="openvswitch"\/>\s*<target dev="everything-e0"\/>/,
    );
    expect(out).toMatch(/<mac address="00:16:3e:0a:0b:0d"\/>\s*<source network="routed"\/>/);
    expect(warnings).toContainEqual(
      expect.stringMatching(/^NIC 00:16:3e:0a:0b:0d was routed by the Xen host/),
    );
  });

  it('names every setting that did not cross, once, with why; maps what the qemu driver refuses', async () => {
    const { warnings } = await xml(file, ...flags);
    expect(notCarried(warnings)).toEqual([
      'cpu_weight',
      'viridian',
      'xen_platform_pci',
      'device_model_version',
      'pci',
      'vtpm',
      'nomigrate',
    ]);
    expect(warnings).toContain(
      "on_poweroff = preserve is not an action libvirt's qemu driver takes: destroy is used",
    );
    expect(warnings).toContainEqual(
      expect.stringMatching(/^disk hdb is Ceph RBD volume pool\/everything-data/),
    );
  });

  it('--emit qemu: the rbd volume, the shared disk, trunks, SPICE and every serial port', async () => {
    const run = await runMain(['xml', file, '--emit', 'qemu', '--domain-type', 'kvm', ...flags]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(
      "-drive 'file=rbd:pool/everything-data:mon_host=10.0.0.1\\:6789\\;10.0.0.2,format=raw,if=virtio'",
    );
    expect(run.stdout).toContain('file=/srv/xen/cluster-shared.img,format=raw,if=virtio,cache=none');
    expect(run.stdout).toContain('ovs-vsctl add-port ovsbr0 everything-e0 trunks=42,43');
    expect(run.stdout).toContain('-spice port=6000,addr=0.0.0.0,password-secret=spicepw');
    expect(run.stdout).toContain('-serial tcp:127.0.0.1:7777,server=on,wait=off');
    expect(run.stdout).toContain('-parallel file:/var/log/xen/everything-lpt.log');
    expect(run.stdout).toContain('-boot order=dc');
    expect(run.stderr).toContain('note: virtio channels, sound, USB host devices: in the libvirt XML only');
  });
});

describe('settings named or not', () => {
  it('a setting that is turned off loses nothing and is not reported; an unknown one is', async () => {
    const file = writeConfig(
      'quiet.cfg',
      'name = "quiet"\nmemory = 256\npci = []\nsdl = 0\nviridian = 0\nfrobnicate = 1\ndisk = [ "/srv/q.img,raw,xvda,rw" ]\n',
    );
    const { warnings } = await xml(file);
    expect(notCarried(warnings)).toEqual(['frobnicate']);
    expect(warnings[0]).toMatch(/^frobnicate is not carried over: not an xl.cfg\(5\) or xm setting/);
  });

  it('a vfb with no type is VNC; sdl=1 is named', async () => {
    const file = writeConfig(
      'vfb.cfg',
      'name = "fb"\nvfb = [ "vnclisten=0.0.0.0,vncdisplay=3" ]\nsdl = 1\ndisk = [ "/srv/fb.img,raw,xvda,rw" ]\n',
    );
    const { xml: out, warnings } = await xml(file);
    expect(out).toContain('<graphics type="vnc" port="5903" autoport="no">');
    expect(notCarried(warnings)).toEqual(['sdl']);
  });

  it('HVM direct kernel boot keeps its kernel; hvmloader as the kernel is no guest kernel', async () => {
    const direct = writeConfig(
      'hvm-direct.cfg',
      'name = "hd"\ntype = "hvm"\nkernel = "/srv/k/vmlinuz"\nramdisk = "/srv/k/initrd"\ncmdline = "root=/dev/xvda1 console=hvc0"\ndisk = [ "/srv/hd.img,raw,xvda,rw" ]\n',
    );
    const { xml: out } = await xml(direct, '--boot', 'direct');
    expect(out).toMatch(
      /<kernel>\/srv\/k\/vmlinuz<\/kernel>\s*<initrd>\/srv\/k\/initrd<\/initrd>\s*<cmdline>root=\/dev\/vda1 console=ttyS0,115200<\/cmdline>/,
    );
    const loader = parseXenConfig(
      'name = "old"\nbuilder = "hvm"\nkernel = "/usr/lib/xen/boot/hvmloader"\n',
      'old.cfg',
    );
    expect(loader.boot.kernel).toBeUndefined();
    expect(loader.hvm?.bootOrder).toEqual(['hd', 'cdrom']);
  });
});

describe('the converted image in an HVM guest', () => {
  it('stands for its first disk whether Xen called it hda, sda or xvda', async () => {
    for (const vdev of ['hda', 'sda', 'xvda']) {
      const file = writeConfig(
        `img-${vdev}.cfg`,
        `name = "g"\ntype = "hvm"\ndisk = [ "file:/srv/xen/g.img,${vdev},w", "file:/srv/xen/g-data.img,${vdev.replace(/a$/, 'b')},w" ]\n`,
      );
      const { xml: out } = await xml(file, '--image', '/var/lib/libvirt/images/g.raw');
      expect(out.match(/<disk type=/g)).toHaveLength(2);
      expect(out).toMatch(/<source file="\/var\/lib\/libvirt\/images\/g.raw"\/>\s*<target dev="vda"/);
      expect(out).toMatch(/<source file="\/srv\/xen\/g-data.img"\/>\s*<target dev="vdb"/);
      expect(out).not.toContain('/srv/xen/g.img');
    }
  });
});

describe('other formats', () => {
  it('xm files are Python: triple-quoted strings span lines; vcpu_avail is the current count', async () => {
    const { xml: out, warnings } = await xml(join(CORPUS, 'xm-triple-quoted.cfg'), '--bridge', 'xenbr0=br0');
    expect(out).toContain('<description>Mail relay.\nOwner: ops</description>');
    expect(out).toContain('<vcpu placement="static" current="1">2</vcpu>');
    expect(notCarried(warnings)).toEqual([]);
    const config = parseXenConfig("extra = '''a\n b'''\nname = \"n\"\n", 'x.cfg');
    expect(config.boot.cmdline).toBe('a\n b');
  });

  it('a bare libxl config (xl create -d) converts; what libxl set and KVM lacks is named', async () => {
    const { xml: out, warnings } = await xml(join(CORPUS, 'libxl-bare.json'), '--bridge', 'xenbr0=br0');
    expect(out).toContain('<name>bare</name>');
    expect(out).toContain('<clock offset="variable" adjustment="-7200" basis="utc">');
    expect(out).toContain('<timer name="hpet" present="no"/>');
    expect(out).toContain('<target dev="bare-e0"/>');
    expect(out).toContain('<target type="virtio" name="org.qemu.guest_agent.0"/>');
    expect(out).toMatch(
      /<graphics type="vnc" port="-1" autoport="yes">\s*<listen type="address" address="127.0.0.1"\/>/,
    );
    expect(notCarried(warnings)).toEqual([
      'b_info.vcpu_soft_affinity',
      'b_info.type.hvm.viridian',
      'pcidevs',
    ]);
  });

  it('a JSON file that is no libxl config says what it expected', async () => {
    const file = writeConfig('other.json', '{"hello": 1}');
    const run = await runMain(['xml', file]);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(
      /guest domains; give one: the output of 'xl list -l NAME' or of 'xl create -d'/,
    );
  });

  it("SXP HVM: the image's VNC, keymap, cdrom, serial, boot order and sound; xend's bookkeeping not reported", async () => {
    const { xml: out, warnings } = await xml(join(CORPUS, 'sxp-hvm.sxp'), '--bridge', 'xenbr0=br0');
    expect(out).toContain('<graphics type="vnc" port="-1" autoport="yes" keymap="ja"/>');
    expect(out).toMatch(/<source file="\/root\/boot.iso"\/>\s*<target dev="hdc" bus="ide"\/>\s*<readonly\/>/);
    expect(out).toMatch(/<boot dev="cdrom"\/>\s*<boot dev="hd"\/>/);
    expect(out).toContain('<sound model="es1370"/>');
    expect(out).toContain('<clock offset="localtime"/>');
    expect(notCarried(warnings)).toEqual(['image hvm viridian', 'image hvm timer_mode', 'device pci']);
  });
});

describe('specs', () => {
  it('serial ports in qemu -serial syntax', () => {
    expect(parseCharDev('pty')).toEqual({ type: 'pty' });
    expect(parseCharDev('tcp::4555,server,nowait')).toEqual({
      type: 'tcp',
      host: '0.0.0.0',
      port: '4555',
      server: true,
    });
    expect(parseCharDev('telnet:127.0.0.1:23')).toEqual({
      type: 'telnet',
      host: '127.0.0.1',
      port: '23',
      server: false,
    });
    expect(parseCharDev('udp:10.0.0.1:514')).toEqual({ type: 'udp', host: '10.0.0.1', port: '514' });
    expect(parseCharDev('/dev/ttyS1')).toEqual({ type: 'dev', path: '/dev/ttyS1' });
    expect(parseCharDev('none')).toBeUndefined();
    expect(parseChannelSpec('name=org.example.0,connection=pty')).toEqual({
      name: 'org.example.0',
      dev: { type: 'pty' },
    });
  });

  it('disks and vifs: w!, empty positional fields, rbd, trunks, vifname', () => {
    expect(parseDiskSpec('/dev/vg/g,,hda,,backendtype=phy')).toMatchObject({
      source: '/dev/vg/g',
      format: 'raw',
      vdev: 'hda',
      readOnly: false,
      block: true,
    });
    expect(parseDiskSpec('phy:/dev/vg/shared,xvdb,w!')).toMatchObject({ shareable: true, readOnly: false });
    expect(parseDiskSpec('vdev=xvdc, target=rbd:rbd/vm1')).toMatchObject({
      source: 'rbd/vm1',
      network: { protocol: 'rbd', hosts: [] },
    });
    expect(parseVifSpec('bridge=ovsbr0.10:20:30,vifname=web0')).toEqual({
      bridge: 'ovsbr0.10',
      trunks: [20, 30],
      vifname: 'web0',
    });
  });

  it("an HVM guest's emulated disk names become virtio names, as Xen's PV names do", () => {
    expect(toKvmDevice('root=/dev/sda2 resume=/dev/hda1 swap=/dev/xvdb')).toBe(
      'root=/dev/vda2 resume=/dev/vda1 swap=/dev/vdb',
    );
    expect(toKvmDevice('/dev/sdaa1 /dev/sdb')).toBe('/dev/vdaa1 /dev/vdb');
    expect(toKvmDevice('/dev/sda2x /dev/xvda')).toBe('/dev/sda2x /dev/vda');
  });
});
