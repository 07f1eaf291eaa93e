export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The text of `agog-perf <command> --help`. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}
