/** /etc/securetty: root may log in on ttyS0; the Xen consoles are gone. */
import type { Step } from '../src/pipeline/types.js';

export function rewriteSecuretty(text: string): string {
  const lines = text.split('\n').filter((line) => !/^(xvc0|hvc0)\s*$/.test(line));
  if (!lines.some((line) => line.trim() === 'ttyS0')) {
    const end = lines.length > 0 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
    lines.splice(end, 0, 'ttyS0');
  }
  return lines.join('\n');
}

export const securettyStep: Step = {
  id: 'securetty',
  title: 'Allow root on ttyS0 in /etc/securetty',
  plan({ tree }) {
    tree.rewrite('/etc/securetty', rewriteSecuretty, 'ttyS0 is the console');
  },
};
