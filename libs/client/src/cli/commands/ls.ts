import type { UploadState, UploadView } from '../../index';
import { parseCommandArgs, parseInteger, UsageError } from '../args';
import { connect, EXIT, printJson, type Command } from '../context';
import { explain } from '../explain';
import { formatBytes, formatTime, percent, renderTable } from '../format';

const STATES: UploadState[] = ['pending', 'receiving', 'finalizing', 'completed', 'failed', 'aborted', 'expired'];
/** The API's page size limit: longer lists are read page by page. */
const PAGE = 100;

const OPTIONS = {
  state: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const lsCommand: Command = {
  name: 'ls',
  synopsis: 'ls [--state S] [--limit N]',
  summary: 'list your uploads, newest first',
  help: `Usage: tessera ls [--state S] [--limit N] [--json]

Lists your uploads, newest first: id, state, size, how much is stored, when it was created
and the file name.

Options:
  --state S    only uploads in state S: ${STATES.join(', ')}
  --limit N    at most N uploads (default 20; more than 100 are read page by page)
  --json       print {"items": [...], "nextCursor": ...} as JSON
  -h, --help   show this help

Exit codes: 0 ok, 1 failure, 2 usage error.
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('ls', args, OPTIONS);
    if (values.help) {
      io.stdout.write(lsCommand.help);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`ls takes no arguments; got '${positionals.join(' ')}'.`, 'ls');
    const state = values.state as UploadState | undefined;
    if (state !== undefined && !STATES.includes(state)) {
      throw new UsageError(`--state must be one of ${STATES.join(', ')}; got '${state}'.`, 'ls');
    }
    const limit = values.limit === undefined ? 20 : parseInteger(values.limit, '--limit', 'ls', 1);
    const { config, client } = connect(io, { retries: 2 });
    try {
      const items: UploadView[] = [];
      let cursor: string | null = null;
      do {
        const page = await client.list({ ...(state ? { state } : {}), limit: Math.min(PAGE, limit - items.length), ...(cursor ? { cursor } : {}) });
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor && items.length < limit);
      if (values.json) {
        printJson(io, { items, nextCursor: cursor });
      } else if (items.length === 0) {
        io.stdout.write(state ? `No uploads in state ${state}.\n` : 'No uploads yet. `tessera upload <file>` sends one.\n');
      } else {
        io.stdout.write(
          renderTable(items, [
            { header: 'ID', value: (u) => u.id },
            { header: 'STATE', value: (u) => u.state },
            { header: 'SIZE', value: (u) => (u.size === null ? '?' : formatBytes(u.size)), align: 'right' },
            { header: 'STORED', value: (u) => `${percent(u.bytesStored, u.size ?? 0)}%`, align: 'right' },
            { header: 'CREATED', value: (u) => formatTime(u.createdAt) },
            { header: 'FILENAME', value: (u) => u.filename },
          ]),
        );
        if (cursor) io.stdout.write(`(more uploads exist: raise --limit to see them)\n`);
      }
      return EXIT.ok;
    } catch (error) {
      io.stderr.write(`tessera: ${explain(error, { baseUrl: config.baseUrl })}\n`);
      return EXIT.failure;
    } finally {
      client.close();
    }
  },
};
