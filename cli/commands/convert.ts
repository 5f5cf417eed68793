// `kubectl sluice convert -f FILE|- [--allow-partial]`: Argo Rollouts (and Flagger) objects to
// Sluice's, offline. The converted file goes to stdout; what was not carried over, by field path
// with the reason, to stderr. Something not carried is a failure unless --allow-partial says the
// rest is wanted anyway: a half-converted release must not reach a cluster by accident.
import { convertYaml } from '../convert/convert.ts';
import type { Io } from '../io.ts';
import { readBounded } from '../read-input.ts';

export async function runConvert(io: Io, file: string, allowPartial: boolean): Promise<number> {
  const { output, converted, skipped } = convertYaml(await readBounded(file, io.stdin));
  const lines: string[] = [];
  for (const s of skipped) lines.push(`${s.kind} ${s.name}: not converted: ${s.reason}`);
  let missing = skipped.length;
  const label = (c: (typeof converted)[number]) => `${c.from ? `${c.from} → ` : ''}${c.kind} ${c.name}`;
  for (const c of converted) {
    for (const n of c.notCarried) lines.push(`${label(c)}: ${n.path}: ${n.reason}`);
    missing += c.notCarried.length;
  }
  const notes = converted.flatMap((c) => c.notes.map((n) => `note: ${label(c)}: ${n}`));
  if (converted.length === 0 && skipped.length === 0) {
    io.err(`error: ${file === '-' ? 'stdin' : file} holds no Argo Rollouts or Flagger object to convert`);
    return 1;
  }
  if (missing > 0 && !allowPartial) {
    io.err(
      [
        ...lines,
        ...notes,
        `error: ${missing} ${missing === 1 ? 'thing' : 'things'} not carried over (listed above); nothing written: --allow-partial writes the rest`,
      ].join('\n'),
    );
    return 1;
  }
  io.out(output);
  if (lines.length || notes.length) io.err([...lines, ...notes].join('\n'));
  return 0;
}
