// Progress lines for a person watching `npm run sandbox:up`; on stderr so stdout stays parseable.
export function say(message: string): void {
  process.stderr.write(`[sandbox] ${message}\n`);
}

/** An error whose message already tells the reader what to do; the CLI prints it without a stack. */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
}
