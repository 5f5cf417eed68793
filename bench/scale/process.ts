// Samples a process' resident memory and CPU time from /proc (Linux), as `top` would.
import { readFileSync } from 'node:fs';

export interface Sample {
  at: number;
  rssMb: number;
  cpuSeconds: number;
}

/** clock ticks per second (`getconf CLK_TCK`): 100 on every Linux we run on. */
const TICKS = 100;

/** /proc/<pid>/stat: utime and stime are fields 14 and 15, counted after the `(comm)` field. */
export function cpuSecondsFromStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

export function rssMbFromStatus(status: string): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? Number.NaN : Number(kb) / 1024;
}

export function sample(pid: number): Sample | undefined {
  try {
    return {
      at: Date.now(),
      rssMb: rssMbFromStatus(readFileSync(`/proc/${pid}/status`, 'utf8')),
      cpuSeconds: cpuSecondsFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8')),
    };
  } catch {
    return undefined; // exited
  }
}

export function sampler(pid: number, everyMs = 1000) {
  const samples: Sample[] = [];
  const take = () => {
    const s = sample(pid);
    if (s) samples.push(s);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
    },
  };
}
