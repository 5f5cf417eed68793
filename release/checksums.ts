import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `SHA256SUMS` in the form `sha256sum -c` reads: the digest, two spaces, the path. */
export function sha256sums(dir: string, files: string[]): string {
  return files
    .map(
      (file) =>
        `${createHash('sha256')
          .update(readFileSync(join(dir, file)))
          .digest('hex')}  ${file}`,
    )
    .join('\n')
    .concat('\n');
}
