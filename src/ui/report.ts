/** The dry-run report: every file diff, every guest command, and the domain XML - the complete plan. */

import pc from 'picocolors';
import { formatCommand, guestLimits } from '../exec.js';
import { describeCheck } from '../pipeline/checks.js';
import { copiesOut, domainXmlOf } from '../pipeline/host-outputs.js';
import type { PlanRecord } from '../pipeline/plan-record.js';
import type { Isolation } from '../pipeline/types.js';
import { describeAppliance } from '../sandbox/appliance.js';
import { describeSandbox } from '../sandbox/bubblewrap.js';
import { cgroupSupport } from '../sandbox/cgroup.js';
import type { FileChange } from '../tree/staged-tree.js';
import type { NotCarried } from '../xen/guest-config.js';
import { colorDiff, unifiedDiff } from './diff.js';

export interface ReportInput {
  image: string;
  summary: string[];
  /** Everything the run would do: the guest's changes and commands, the host's files, warnings. */
  record: PlanRecord;
  color: boolean;
  /** Where the guest's commands run (--isolation). */
  isolation?: Isolation;
  /** The Xen configuration's settings the KVM guest does not get (also among the warnings). */
  notCarried?: readonly NotCarried[];
}

/** The domain XML of a plan, as the review shows it: would it be new, replace a file, or match it. */
function xmlOf(record: PlanRecord) {
  const xml = domainXmlOf(record.hostOutputs);
  if (!xml) return undefined;
  const state =
    xml.previous === xml.content
      ? 'unchanged'
      : xml.previous !== undefined
        ? 'would replace'
        : 'would be written';
  return { ...xml, state };
}

export function renderPlan(input: ReportInput): string {
  const { changes, commands, warnings, hostOutputs } = input.record;
  const heading = (text: string) => (input.color ? pc.bold(pc.magenta(text)) : text);
  const out: string[] = [];
  out.push(heading(`# xen2kvm plan for ${input.image}`));
  for (const line of input.summary) out.push(`# ${line}`);
  out.push('');
  out.push(heading(`# ${changes.length} file change(s) in the guest`));
  for (const change of changes) {
    out.push(`# ${change.step}: ${change.reason}`);
    out.push(colorDiff(unifiedDiff(change), input.color).trimEnd());
  }
  out.push('');
  out.push(heading(`# ${commands.length} command(s) to run inside the guest, in order`));
  if (commands.length > 0) out.push(`# ${howGuestCommandsRun(input.isolation)}`);
  for (const command of commands) {
    out.push(`${formatCommand({ file: command.argv[0] ?? '', args: command.argv.slice(1) })}`);
    out.push(`#   why: ${command.why}`);
    for (const line of command.input?.trimEnd().split('\n') ?? []) out.push(`#   input: ${line}`);
    if (command.stage?.some((file) => file.from))
      out.push(
        `#   copies in: ${command.stage.flatMap((f) => (f.from ? [`${f.from} -> ${f.path}`] : [])).join(', ')}`,
      );
    if (command.check) out.push(`#   then check: ${describeCheck(command.check)}`);
  }
  for (const warning of warnings) out.push(`# warning: ${warning}`);
  const copies = copiesOut(hostOutputs);
  if (copies.length > 0) {
    out.push('');
    out.push(heading(`# ${copies.length} file(s) copied out of the guest, onto this host`));
    for (const copy of copies) out.push(`# ${copy.from} -> ${copy.to} (${copy.why})`);
  }
  const xml = xmlOf(input.record);
  if (xml) {
    out.push('');
    out.push(heading(`# libvirt domain XML (${xml.state}: ${xml.path})`));
    out.push(xml.content.trimEnd());
  }
  return `${out.join('\n')}\n`;
}

/** How the plan's guest commands would run on this host (the sandbox, its limits). */
export function howGuestCommandsRun(isolation: Isolation = 'sandbox'): string {
  return isolation === 'vm'
    ? describeAppliance(guestLimits())
    : describeSandbox(guestLimits(), cgroupSupport());
}

/** Lines added and removed by a change, as `git diff --stat` counts them. */
export function changeStat(change: FileChange): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of unifiedDiff(change).split('\n')) {
    if (line.startsWith('+') && !line.startsWith('+++')) added++;
    else if (line.startsWith('-') && !line.startsWith('---')) removed++;
  }
  return { added, removed };
}

/** The plan in a few lines: one per file with its counts, then the commands and the XML's path. */
export function renderPlanStat(input: ReportInput): string {
  const { changes, commands, warnings } = input.record;
  const out: string[] = [`# xen2kvm plan for ${input.image}`];
  const width = Math.max(0, ...changes.map((c) => c.path.length));
  for (const change of changes) {
    const { added, removed } = changeStat(change);
    out.push(
      ` ${change.path.padEnd(width)} | +${added} -${removed}${change.kind === 'write' ? '' : ` (${change.kind})`}`,
    );
  }
  out.push(` ${changes.length} file(s) changed`);
  for (const command of commands) out.push(` run in the guest's sandbox: ${command.argv.join(' ')}`);
  for (const copy of copiesOut(input.record.hostOutputs)) out.push(` copy out: ${copy.from} -> ${copy.to}`);
  for (const warning of warnings) out.push(` warning: ${warning}`);
  const xml = xmlOf(input.record);
  if (xml) out.push(` domain XML: ${xml.path}${xml.state === 'unchanged' ? ' (unchanged)' : ''}`);
  return `${out.join('\n')}\n`;
}

/** The plan as data, for scripts: what `--diff-format json` prints. */
export function planJson(input: ReportInput) {
  const { changes, commands, warnings } = input.record;
  const xml = xmlOf(input.record);
  return {
    image: input.image,
    summary: input.summary,
    changes: changes.map((change) => ({
      path: change.path,
      kind: change.kind,
      step: change.step,
      reason: change.reason,
      ...changeStat(change),
      diff: unifiedDiff(change),
    })),
    commands: commands.map((command) => ({
      step: command.step,
      argv: command.argv,
      why: command.why,
      check: command.check ? describeCheck(command.check) : null,
    })),
    sandbox: commands.length > 0 ? howGuestCommandsRun(input.isolation) : null,
    isolation: input.isolation ?? 'sandbox',
    copiesOut: copiesOut(input.record.hostOutputs).map(({ from, to, why }) => ({ from, to, why })),
    warnings,
    xenSettingsNotCarried: [...(input.notCarried ?? [])],
    domainXml: xml ? { path: xml.path, unchanged: xml.state === 'unchanged', content: xml.content } : null,
  };
}

export type DiffFormat = 'unified' | 'stat' | 'json';

export function renderPlanAs(format: DiffFormat, input: ReportInput): string {
  if (format === 'stat') return renderPlanStat(input);
  if (format === 'json') return `${JSON.stringify(planJson(input), null, 2)}\n`;
  return renderPlan(input);
}
