const USAGE = `Usage: kubectl sluice <command> [NAME] [flags]

Commands (land with the controller issue):
  list                          Rollouts and their phase, weight and step
  status NAME [--watch]         revisions, pods, weight, step, pause, analysis, events
  promote NAME [--full]         continue past a pause, or skip every remaining step
  abort NAME | retry NAME       stop a release (traffic back to stable) / start it again
  pause NAME | resume NAME      hold a release where it is / let it continue
  undo NAME [--to-revision N]   roll the template back
  set image NAME CONTAINER=IMAGE

Flags: -n/--namespace, --context, --kubeconfig (as kubectl).`;

/** Entry point of the kubectl plugin; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  console.error(`kubectl sluice: '${command}' is not available yet.\n\n${USAGE}`);
  return 2;
}
