/**
 * What import asks of a Xen host, with ssh stubbed by a small Xen host (its tools, its running
 * domains, its /etc/xen, its LVM): the commands it runs there, and what it refuses. The real one,
 * an sshd in a network namespace, is in test/e2e/fleet.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CommandError, type CommandRunner, type CommandSpec } from '../../src/exec.js';
import { parseSshSource, quoteWords } from '../../src/remote/ssh-source.js';
import { parseBandwidth } from '../../src/remote/wire.js';
import { XenHost } from '../../src/remote/xen-host.js';

interface FakeXenHost {
  tools: string[];
  running: Record<string, string>;
  files: Record<string, string>;
  volumes: Record<string, string>;
}

/** Answers the ssh command lines xen2kvm sends, as the Xen host would; records each one. */
function stubSsh(host: FakeXenHost) {
  const ran: string[] = [];
  const runner: CommandRunner = {
    async run(spec: CommandSpec) {
      expect(spec.file).toBe('ssh');
      const line = spec.args.at(-1) as string;
      ran.push(line);
      const ok = (stdout = '', exitCode = 0) => {
        if (exitCode !== 0 && !spec.okExitCodes?.includes(exitCode))
          throw new CommandError(spec, { stdout, stderr: '', exitCode }, `exit code ${exitCode}`);
        return { stdout, stderr: '', exitCode };
      };
      if (line.startsWith('sh -c') && line.includes('command -v'))
        return ok(
          ['xl', 'xm', 'python3', 'zstd', 'lvs']
            .map((t) => `${t} ${host.tools.includes(t) ? 'yes' : 'no'}`)
            .join('\n'),
        );
      let match = /^(xl|xm) list (-l )?(\S+)$/.exec(line);
      if (match) {
        const config = host.running[match[3] as string];
        return config ? ok(match[2] ? config : 'Name ID\n') : ok('', 1);
      }
      match = /^sh -c .* xen2kvm (\S+)$/.exec(line);
      if (match) {
        for (const f of [`/etc/xen/${match[1]}`, `/etc/xen/${match[1]}.cfg`])
          if (host.files[f] !== undefined) return ok(`${f}\n${host.files[f]}`);
        return ok('', 3);
      }
      match = /^lvs --noheadings -o vg_name,lv_name (\S+)$/.exec(line);
      if (match) {
        const volume = host.volumes[match[1] as string];
        return volume ? ok(`  ${volume.replace('/', ' ')}\n`) : ok('', 5);
      }
      if (/^(lvcreate|lvremove|xl shutdown|xm shutdown)/.test(line)) return ok();
      throw new Error(`the stub Xen host does not know: ${line}`);
    },
  };
  return { runner, ran };
}

const XL_CFG = 'name = "web1"\ndisk = [ "phy:/dev/vg0/web1,xvda,w" ]\n';

describe('the Xen host as import sees it', () => {
  it("reads a running guest's configuration from xl list -l, a stopped one's from /etc/xen", async () => {
    const { runner, ran } = stubSsh({
      tools: ['xl', 'python3'],
      running: { web1: '[{"domid": 3}]' },
      files: { '/etc/xen/web2.cfg': XL_CFG },
      volumes: {},
    });
    const running = new XenHost(parseSshSource('ssh://dom0/web1'), runner);
    const tools = await running.tools();
    expect(tools).toEqual({ toolstack: 'xl', python3: true, zstd: false, lvs: false });
    expect(await running.config(tools)).toEqual({
      text: '[{"domid": 3}]',
      origin: 'xl list -l web1',
      running: true,
    });
    const stopped = new XenHost(parseSshSource('ssh://dom0/web2'), runner);
    expect(await stopped.config(tools)).toEqual({
      text: XL_CFG,
      origin: '/etc/xen/web2.cfg',
      running: false,
    });
    // The name is one quoted word of the remote command: nothing of it is shell syntax there.
    expect(ran).toContain(
      'sh -c \'for f in "/etc/xen/$1" "/etc/xen/$1.cfg"; do if [ -f "$f" ]; then echo "$f"; exec cat -- "$f"; fi; done; exit 3\' xen2kvm web2',
    );
  });

  it('uses xm where there is no xl (Xen 3), and names what is missing when no configuration is found', async () => {
    const { runner, ran } = stubSsh({
      tools: ['xm', 'python3'],
      running: { old1: '(domain (name old1))' },
      files: {},
      volumes: {},
    });
    const host = new XenHost(parseSshSource('ssh://dom0/old1'), runner);
    const tools = await host.tools();
    expect(await host.config(tools)).toMatchObject({ origin: 'xm list -l old1', running: true });
    await host.shutdown(tools, 'old1');
    expect(ran.at(-1)).toBe('xm shutdown -w old1');
    const missing = new XenHost(parseSshSource('ssh://dom0/nosuch'), runner);
    await expect(missing.config(tools)).rejects.toThrow(
      "nosuch is not a domain on dom0 (xm list knows no such domain) and neither /etc/xen/nosuch nor /etc/xen/nosuch.cfg exists; give its configuration's path: ssh://dom0//PATH",
    );
  });

  it('snapshots an LVM volume (and names the snapshot for its removal); refuses a disk that is no volume', async () => {
    const { runner, ran } = stubSsh({
      tools: ['xl'],
      running: {},
      files: {},
      volumes: { '/dev/vg0/web1': 'vg0/web1' },
    });
    const host = new XenHost(parseSshSource('ssh://dom0/web1'), runner);
    const snapshot = await host.snapshot('/dev/vg0/web1', 'web1', '4G');
    expect(snapshot).toEqual({ device: '/dev/vg0/web1-xen2kvm-snap', volume: 'vg0/web1-xen2kvm-snap' });
    expect(ran.at(-1)).toBe(
      quoteWords(['lvcreate', '--snapshot', '--name', 'web1-xen2kvm-snap', '--size', '4G', 'vg0/web1']),
    );
    await host.removeSnapshot(snapshot);
    expect(ran.at(-1)).toBe('lvremove --force vg0/web1-xen2kvm-snap');
    await expect(host.snapshot('/srv/xen/web1.img', 'web1', '4G')).rejects.toThrow(
      "web1's disk /srv/xen/web1.img on dom0 is not an LVM volume, so it cannot be snapshotted; shut the guest down instead (--shutdown)",
    );
  });

  it('reads --bandwidth as bytes per second with binary suffixes, and refuses what is not a rate', () => {
    expect(parseBandwidth('20M')).toBe(20 * 1024 ** 2);
    expect(parseBandwidth('512K')).toBe(512 * 1024);
    expect(parseBandwidth('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(parseBandwidth('100MB/s')).toBe(100 * 1024 ** 2);
    for (const bad of ['fast', '-1M', '10'])
      expect(() => parseBandwidth(bad)).toThrow(/--bandwidth .*: expected bytes per second/);
  });
});
