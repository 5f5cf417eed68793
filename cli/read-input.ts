// Reading the file a command is given (`-f FILE`, or `-f -` for stdin), bounded: a Rollout file
// is a few KiB, and a larger one is not what was meant.
import { open } from 'node:fs/promises';
import { CliError } from './errors.ts';

export const MAX_FILE_BYTES = 1024 * 1024;

async function readStream(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > MAX_FILE_BYTES) throw new CliError(`stdin is larger than ${MAX_FILE_BYTES / 1024} KiB`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The file's text; `-` reads `stdin` (the process's when not given). */
export async function readBounded(
  file: string,
  stdin: AsyncIterable<Buffer | string> = process.stdin,
): Promise<string> {
  if (file === '-') return readStream(stdin);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_FILE_BYTES) throw new CliError(`${file} is larger than ${MAX_FILE_BYTES / 1024} KiB`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
