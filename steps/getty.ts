/**
 * A login on the first serial port instead of the Xen console (hvc0 on pvops kernels, xvc0 on
 * XenLinux): systemd serial-getty@ units and sysvinit inittab lines.
 */
import { SERIAL_SPEED, SERIAL_TTY } from '../src/guest/kvm-target.js';
import type { Step, StepContext } from '../src/pipeline/types.js';

const XEN_TTY = /^(hvc0|xvc0)$/;

/** inittab: Xen console gettys commented out; a getty on ttyS0 enabled (uncommented or added). */
export function rewriteInittab(text: string): string {
  const lines = text.split('\n');
  const isGetty = (line: string) => /^[^:#]*:[^:]*:[^:]*:\S*getty\b/.test(line);
  const words = (line: string) => line.split(/[\s:]+/);
  let changed = false;
  const out = lines.map((line) => {
    if (isGetty(line) && words(line).some((w) => XEN_TTY.test(w))) {
      changed = true;
      return `#${line}`;
    }
    return line;
  });
  if (!changed) return text;
  if (out.some((line) => isGetty(line) && words(line).includes('ttyS0'))) return out.join('\n');
  const commented = out.findIndex(
    (line) => line.startsWith('#') && isGetty(line.slice(1)) && words(line).includes('ttyS0'),
  );
  if (commented !== -1) {
    out[commented] = withSerialSpeed((out[commented] as string).slice(1));
    return out.join('\n');
  }
  const ids = new Set(out.map((line) => line.replace(/^#/, '').split(':')[0]));
  const id = ['T0', 'S0', 's0', 'T1'].find((candidate) => !ids.has(candidate)) ?? 'xk';
  const lastGetty = out.reduce((last, line, index) => (isGetty(line.replace(/^#/, '')) ? index : last), -1);
  out.splice(lastGetty + 1, 0, `${id}:2345:respawn:/sbin/getty -L ${SERIAL_TTY} ${SERIAL_SPEED} vt102`);
  return out.join('\n');
}

function withSerialSpeed(line: string): string {
  return line.replace(/\b(9600|19200|38400|57600)\b/, String(SERIAL_SPEED));
}

/** Xen console getty units enabled in systemd *.wants directories. */
function planSystemdGettys({ tree }: StepContext): void {
  const systemDir = '/etc/systemd/system';
  for (const wants of tree.list(systemDir).filter((name) => name.endsWith('.wants'))) {
    const dir = `${systemDir}/${wants}`;
    for (const unit of tree.list(dir)) {
      const match = /^(serial-getty|getty)@(hvc0|xvc0)\.service$/.exec(unit);
      if (!match) continue;
      const target = tree.readLink(`${dir}/${unit}`) ?? '/lib/systemd/system/serial-getty@.service';
      tree.remove(`${dir}/${unit}`, 'no Xen console under KVM');
      tree.symlink(
        `${dir}/serial-getty@ttyS0.service`,
        target.replace(/\/getty@/, '/serial-getty@'),
        'login on ttyS0',
      );
    }
  }
}

/** Upstart (old Ubuntu): /etc/init/hvc0.conf becomes ttyS0.conf. */
function planUpstartGettys({ tree }: StepContext): void {
  for (const name of ['hvc0.conf', 'xvc0.conf']) {
    const text = tree.read(`/etc/init/${name}`);
    if (text === undefined || tree.exists('/etc/init/ttyS0.conf')) continue;
    const converted = text
      .replace(/\b(hvc0|xvc0)\b/g, SERIAL_TTY)
      .replace(/\b(9600|38400)\b/, String(SERIAL_SPEED));
    tree.write('/etc/init/ttyS0.conf', converted, 'login on ttyS0');
  }
}

export const gettyStep: Step = {
  id: 'getty',
  title: 'Move the login console from the Xen console to ttyS0',
  plan(ctx) {
    planSystemdGettys(ctx);
    planUpstartGettys(ctx);
    const inittab = ctx.tree.read('/etc/inittab');
    if (inittab !== undefined) ctx.tree.write('/etc/inittab', rewriteInittab(inittab), 'getty on ttyS0');
  },
};
