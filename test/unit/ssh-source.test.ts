import { describe, expect, it } from 'vitest';
import { parseSshSource, sshArgs } from '../../src/remote/ssh-source.js';

describe('ssh:// sources', () => {
  it('name a domain or a configuration path on a Xen host, with user and port when given', () => {
    expect(parseSshSource('ssh://dom0.example/web1')).toEqual({ host: 'dom0.example', name: 'web1' });
    expect(parseSshSource('ssh://ops@10.1.2.3:2222/web-1.cfg')).toEqual({
      user: 'ops',
      host: '10.1.2.3',
      port: 2222,
      name: 'web-1.cfg',
    });
    expect(parseSshSource('ssh://dom0//etc/xen/web1.cfg').name).toBe('/etc/xen/web1.cfg');
    expect(parseSshSource('ssh://[fd00::1]/web1').host).toBe('[fd00::1]');
  });

  it('refuse what is not one, in one line saying what is wrong', () => {
    for (const [text, why] of [
      ['dom0:/web1', /not an ssh:\/\/ source/],
      ['ssh://dom0/', /not an ssh:\/\/ source/],
      ['ssh://-oProxyCommand=x/web1', /is not a host name/],
      ['ssh://dom0:70000/web1', /port 70000 is out of range/],
      ['ssh://dom0/web1;reboot', /is not a domain name/],
      ['ssh://dom0//etc/xen/../shadow', /is not a plain absolute path/],
    ] as const) {
      expect(() => parseSshSource(text)).toThrow(why);
    }
  });

  it('run remote commands in batch mode, every word quoted for the remote shell', () => {
    const source = parseSshSource('ssh://ops@dom0:2222/web1');
    expect(sshArgs(source, ['cat', "/etc/xen/it's.cfg"])).toEqual([
      '-o',
      'BatchMode=yes',
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'ServerAliveCountMax=4',
      '-p',
      '2222',
      '--',
      'ops@dom0',
      "cat '/etc/xen/it'\\''s.cfg'",
    ]);
  });
});
