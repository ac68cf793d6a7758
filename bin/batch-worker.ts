/** A batch worker process: one conversion from the request the batch sends over IPC (src/batch/worker.ts). */
import { getOneMessage, sendMessage } from 'execa';
import type { JobRequest } from '../src/batch/job.js';
import { runJob } from '../src/batch/worker.js';
import { guestSteps } from '../steps/index.js';

const request = (await getOneMessage()) as unknown as JobRequest;
const reply = await runJob(request, guestSteps);
await sendMessage(reply as never);
process.exitCode = reply.exitCode;
