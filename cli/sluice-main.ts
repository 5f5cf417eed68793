const USAGE = `Usage: sluice <command> [flags]

Commands:
  controller   run the Sluice controller (lands with the controller issue)
  help         show this help

Sluice releases Kubernetes workloads progressively: canary through Istio weights or
blue-green, gated on Prometheus analysis. See README.md.`;

/** Entry point of the `sluice` binary; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  console.error(`sluice: '${command}' is not available yet.\n\n${USAGE}`);
  return 2;
}
