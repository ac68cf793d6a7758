/**
 * An error the operator can act on: one line saying what is wrong and what to do.
 * The CLI prints only the message (no stack) and exits with `exitCode`.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Raised when the operator interrupts the run (Ctrl-C, SIGTERM). */
export class InterruptedError extends UserError {
  constructor(signal: string) {
    // The shell's convention: 128 + the signal's number.
    super(
      `interrupted by ${signal}; everything the run had mounted or mapped was released`,
      signal === 'SIGTERM' ? 143 : 130,
    );
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
