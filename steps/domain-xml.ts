/** Step 8: the libvirt domain XML, written beside the image as NAME.xml. */
import { dirname, join, resolve } from 'node:path';
import { buildDomainXml, domainNameFor, type NetworkAttachment } from '../src/xml/domain.js';

export interface DomainOptions {
  name?: string;
  memoryMiB: number;
  vcpus: number;
  network: NetworkAttachment;
  xmlPath?: string;
}

export function planDomainXml(image: string, options: DomainOptions): { path: string; content: string } {
  const diskPath = resolve(image);
  const name = options.name ?? domainNameFor(diskPath);
  const path = options.xmlPath ? resolve(options.xmlPath) : join(dirname(diskPath), `${name}.xml`);
  const content = buildDomainXml({
    name,
    memoryMiB: options.memoryMiB,
    vcpus: options.vcpus,
    diskPath,
    diskFormat: 'raw',
    network: options.network,
  });
  return { path, content };
}
