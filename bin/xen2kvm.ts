#!/usr/bin/env node
/** The xen2kvm program: the command line (src/cli.ts) given the guest steps it plans (steps/). */
import { main } from '../src/cli.js';
import { guestSteps } from '../steps/index.js';

process.exitCode = await main({
  argv: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  steps: guestSteps,
});
