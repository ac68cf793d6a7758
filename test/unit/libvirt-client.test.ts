/**
 * How xen2kvm talks to libvirt, with virsh stubbed as a small in-memory libvirt: which refusals come
 * before anything changes, and which virsh commands a define, a --replace and a --start run. The
 * real daemon is in test/e2e/libvirt.test.ts.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { CommandError, type CommandRunner, type CommandSpec } from '../../src/exec.js';
import { simpleDomain } from '../../src/xml/domain.js';
import { defineDomain, type LibvirtRequest } from '../../src/xml/libvirt.js';
import { qemuScript, tapName } from '../../src/xml/qemu-command.js';

const URI = 'qemu:///system';

/** A libvirt of named domains (uuid, state), answering virsh as the real one does. */
function stubLibvirt(domains: Record<string, { uuid: string; state: string }>, startFails = false) {
  const ran: string[] = [];
  const runner: CommandRunner = {
    async run(spec: CommandSpec) {
      const [, , , verb, arg] = spec.args; // -q -c URI VERB ARG
      ran.push(`${verb}${arg ? ` ${arg}` : ''}`);
      const fail = (stderr: string) => {
        throw new CommandError(spec, { stdout: '', stderr, exitCode: 1 }, 'exit code 1');
      };
      const ok = (stdout = '') => ({ stdout, stderr: '', exitCode: 0 });
      switch (verb) {
        case 'uri':
          return ok(URI);
        case 'domstate':
        case 'domuuid': {
          const d = domains[arg as string];
          if (!d) return fail(`error: failed to get domain '${arg}'`);
          return ok(verb === 'domstate' ? d.state : d.uuid);
        }
        case 'domname': {
          const name = Object.keys(domains).find((n) => domains[n]?.uuid === arg);
          return name ? ok(name) : fail(`error: failed to get domain '${arg}'`);
        }
        case 'start':
          return startFails ? fail("error: Cannot get interface MTU on 'br9': No such device") : ok();
        default:
          return ok();
      }
    },
  };
  return { runner, ran };
}

const web01 = { xmlPath: '/srv/kvm/web01.xml', name: 'web01', uuid: '11111111-2222-5333-8444-555555555555' };
const request = (over: Partial<LibvirtRequest> = {}): LibvirtRequest => ({
  uri: URI,
  replace: false,
  start: false,
  ...over,
});

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return (error as UserError).message;
}

describe('defining a domain through virsh', () => {
  it('a new name: probe, look, define, start', async () => {
    const { runner, ran } = stubLibvirt({});
    const done = await defineDomain(runner, request({ start: true }), web01);
    expect(done).toEqual({ uri: URI, domain: 'web01', replaced: false, started: true });
    expect(ran).toEqual([
      'uri',
      'domstate web01',
      `domname ${web01.uuid}`,
      'define /srv/kvm/web01.xml',
      'start web01',
    ]);
  });

  it('a taken name is refused before anything changes, naming --replace', async () => {
    const { runner, ran } = stubLibvirt({ web01: { uuid: web01.uuid, state: 'shut off' } });
    expect(await refusal(defineDomain(runner, request(), web01))).toBe(
      'a domain named web01 is already defined at qemu:///system (shut off); add --replace to redefine it (its disks are kept), or choose another --name',
    );
    expect(ran.some((r) => r.startsWith('define'))).toBe(false);
  });

  it('--replace over the same uuid redefines in place; over another uuid it undefines the old one first', async () => {
    const same = stubLibvirt({ web01: { uuid: web01.uuid, state: 'shut off' } });
    expect((await defineDomain(same.runner, request({ replace: true }), web01)).replaced).toBe(true);
    expect(same.ran.filter((r) => /^(undefine|define)/.test(r))).toEqual(['define /srv/kvm/web01.xml']);
    const other = stubLibvirt({ web01: { uuid: '99999999-2222-5333-8444-555555555555', state: 'shut off' } });
    await defineDomain(other.runner, request({ replace: true }), web01);
    expect(other.ran.filter((r) => /^(undefine|define)/.test(r))).toEqual([
      'undefine --keep-nvram',
      'define /srv/kvm/web01.xml',
    ]);
  });

  it('a running domain is not redefined, even with --replace', async () => {
    const { runner } = stubLibvirt({ web01: { uuid: web01.uuid, state: 'running' } });
    expect(await refusal(defineDomain(runner, request({ replace: true }), web01))).toBe(
      'domain web01 is running at qemu:///system; shut it down (virsh -c qemu:///system shutdown web01) before redefining it',
    );
  });

  it('a uuid another domain holds is refused, naming it', async () => {
    const { runner } = stubLibvirt({ db01: { uuid: web01.uuid, state: 'shut off' } });
    expect(await refusal(defineDomain(runner, request(), web01))).toMatch(
      /^domain db01 at qemu:\/\/\/system already has uuid 11111111-2222-5333-8444-555555555555, which web01 is given;/,
    );
  });

  it('a start libvirt refuses leaves the domain defined and says how to start it', async () => {
    const { runner } = stubLibvirt({}, true);
    expect(await refusal(defineDomain(runner, request({ start: true }), web01))).toBe(
      "domain web01 is defined at qemu:///system but did not start: Cannot get interface MTU on 'br9': No such device; fix that and run virsh -c qemu:///system start web01",
    );
  });
});

describe('the qemu script for Open vSwitch', () => {
  it('tags the tap with the VLAN, removes the port when qemu exits, and is valid shell', async () => {
    const spec = {
      ...simpleDomain({
        type: 'qemu',
        name: 'www.example.org',
        diskPath: '/srv/kvm/www.raw',
        memoryMiB: 512,
        vcpus: 1,
        network: { type: 'bridge', name: 'ovsbr0', openvswitch: true, vlan: 42 },
        format: 'raw',
      }),
    };
    const { text } = qemuScript(spec);
    const tap = tapName('www.example.org', 0);
    expect(tap).toBe('www-example-o-0');
    expect(tap.length).toBeLessThanOrEqual(15);
    expect(text).toContain(
      `ip tuntap add dev ${tap} mode tap\novs-vsctl add-port ovsbr0 ${tap} tag=42\nip link set ${tap} up\n`,
    );
    expect(text).toContain(`  ovs-vsctl --if-exists del-port ovsbr0 ${tap} 2>/dev/null || true`);
    expect(text).toContain(`-netdev tap,id=net0,ifname=${tap},script=no,downscript=no`);
    expect(text).toContain('-machine pc,accel=tcg');
    expect((await execa('sh', ['-n'], { input: text, reject: false })).exitCode).toBe(0);
  });
});
