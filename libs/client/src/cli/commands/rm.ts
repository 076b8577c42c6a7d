import { parseCommandArgs, uploadIdArgument } from '../args';
import { stateFile } from '../config';
import { connect, EXIT, type Command } from '../context';
import { explain } from '../explain';
import { ResumeStore } from '../state-store';

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
} as const;

export const rmCommand: Command = {
  name: 'rm',
  synopsis: 'rm <id>',
  summary: 'delete an upload (finished or not) and release its bytes',
  help: `Usage: tessera rm <id>

Deletes one of your uploads, finished or not: it is aborted if unfinished, its bytes are
released (bytes shared with other uploads stay), and afterwards it is not found.

Options:
  -h, --help   show this help

Exit codes: 0 deleted, 1 failure (for example, no such upload), 2 usage error.
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('rm', args, OPTIONS);
    if (values.help) {
      io.stdout.write(rmCommand.help);
      return EXIT.ok;
    }
    const id = uploadIdArgument(positionals, 'rm');
    const { config, client } = connect(io, { retries: 2 });
    try {
      await client.delete(id);
      // An interrupted upload that is deleted can no longer be resumed: forget it.
      try {
        new ResumeStore(stateFile(io.env)).removeUpload(config.baseUrl, id);
      } catch {
        // the state file is a convenience; a stale entry is dropped when next used
      }
      io.stdout.write(`Deleted upload ${id}.\n`);
      return EXIT.ok;
    } catch (error) {
      io.stderr.write(`tessera: ${explain(error, { baseUrl: config.baseUrl, uploadId: id })}\n`);
      return EXIT.failure;
    } finally {
      client.close();
    }
  },
};
