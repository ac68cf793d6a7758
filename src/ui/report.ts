/** The dry-run report: every file diff, every guest command, and the domain XML - the complete plan. */
import pc from 'picocolors';
import { formatCommand } from '../exec.js';
import type { PlannedCommand } from '../pipeline/types.js';
import type { FileChange } from '../tree/staged-tree.js';
import { colorDiff, unifiedDiff } from './diff.js';

export interface ReportInput {
  image: string;
  summary: string[];
  changes: readonly FileChange[];
  commands: readonly PlannedCommand[];
  warnings: readonly string[];
  domainXml: { path: string; content: string; exists: boolean; unchanged: boolean };
  color: boolean;
}

export function renderPlan(input: ReportInput): string {
  const heading = (text: string) => (input.color ? pc.bold(pc.magenta(text)) : text);
  const out: string[] = [];
  out.push(heading(`# xen2kvm plan for ${input.image}`));
  for (const line of input.summary) out.push(`# ${line}`);
  out.push('');
  out.push(heading(`# ${input.changes.length} file change(s) in the guest`));
  for (const change of input.changes) {
    out.push(`# ${change.step}: ${change.reason}`);
    out.push(colorDiff(unifiedDiff(change), input.color).trimEnd());
  }
  out.push('');
  out.push(heading(`# ${input.commands.length} command(s) to run inside the guest (chroot), in order`));
  for (const command of input.commands) {
    out.push(`${formatCommand({ file: command.argv[0] ?? '', args: command.argv.slice(1) })}`);
    out.push(`#   why: ${command.why}`);
    if (command.check) out.push(`#   then check: ${command.check.describe}`);
  }
  for (const warning of input.warnings) out.push(`# warning: ${warning}`);
  out.push('');
  const xmlState = input.domainXml.unchanged ? 'unchanged' : input.domainXml.exists ? 'replaced' : 'written';
  out.push(heading(`# libvirt domain XML (${xmlState}: ${input.domainXml.path})`));
  out.push(input.domainXml.content.trimEnd());
  return `${out.join('\n')}\n`;
}
