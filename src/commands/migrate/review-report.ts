/**
 * The review of one run as the operator reads it: the summary, then the plan record (every file
 * change, guest command, host file and warning, the domain XML). Made from the inspection alone,
 * so the same report can be built over a fixture tree without mounting anything (the golden plans
 * are checked that way).
 */

import type { FsImageInput } from '../../pipeline/fs-image-input.js';
import type { HostOutput } from '../../pipeline/host-outputs.js';
import type { Inspection } from '../../pipeline/inspect-and-plan.js';
import { type PlanRecord, planRecord } from '../../pipeline/plan-record.js';
import type { ReportInput } from '../../ui/report.js';
import type { MigrateOptions } from './options.js';
import { type DirectBoot, directBootCopies, layoutLines } from './partitionless.js';
import { summaryLines } from './summary.js';

export interface PlannedXml {
  path: string;
  content: string;
  warnings: string[];
}

/** What a run plans beside the guest, and the warnings of the layout and the XML. */
export interface Beside {
  fsInput?: FsImageInput;
  direct?: DirectBoot;
  xml: PlannedXml;
  /** The XML already at xml.path, if any. */
  xmlBefore?: string;
}

/** The whole record of a reviewed run: its guest plan, the host's files, every warning in order. */
export function reviewRecord(reviewed: Inspection, { fsInput, direct, xml, xmlBefore }: Beside): PlanRecord {
  const hostOutputs: HostOutput[] = [
    ...(direct ? directBootCopies(direct) : []),
    { kind: 'domain-xml', path: xml.path, content: xml.content, previous: xmlBefore },
  ];
  const warnings = [
    ...(fsInput?.warnings ?? []),
    ...reviewed.plan.warnings,
    ...xml.warnings.map((w) => `domain XML: ${w}`),
  ];
  return planRecord(reviewed.plan, hostOutputs, warnings);
}

export interface ReviewParts {
  reviewed: Inspection;
  record: PlanRecord;
  options: Pick<MigrateOptions, 'image' | 'target' | 'isolation'>;
  fsInput?: FsImageInput;
  direct?: DirectBoot;
  color: boolean;
}

export function reviewReport({
  reviewed,
  record,
  options,
  fsInput,
  direct,
  color,
}: ReviewParts): ReportInput {
  return {
    image: options.image,
    summary: [...summaryLines(reviewed, options, fsInput?.mode === 'guest'), ...layoutLines(fsInput, direct)],
    record,
    color,
    isolation: options.isolation,
  };
}
