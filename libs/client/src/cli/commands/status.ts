import type { UploadView } from '../../index';
import { parseCommandArgs, uploadIdArgument } from '../args';
import { connect, EXIT, printJson, type Command } from '../context';
import { explain } from '../explain';
import { formatBytes, formatTime, percent } from '../format';

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `key  value` lines describing one upload. */
export function describeUpload(upload: UploadView): string {
  const size = upload.size ?? 0;
  const rows: Array<[string, string]> = [
    ['id', upload.id],
    ['file', `${upload.filename} (${upload.contentType})`],
    ['state', upload.state],
    ['size', upload.size === null ? 'not known yet' : `${formatBytes(size)} (${size} bytes)`],
    ['received', `${formatBytes(upload.bytesReceived)} (${percent(upload.bytesReceived, size)}%)`],
    ['stored', `${formatBytes(upload.bytesStored)} (${percent(upload.bytesStored, size)}%), ${upload.chunksStored} of ${upload.chunkCount ?? '?'} chunks of ${formatBytes(upload.chunkSize)}`],
  ];
  if (upload.missing.length > 0 && !['completed', 'failed', 'aborted', 'expired'].includes(upload.state)) {
    rows.push(['missing', `${upload.missing.length} chunk${upload.missing.length === 1 ? '' : 's'} not received yet`]);
  }
  if (upload.sha256) rows.push(['sha256', upload.sha256]);
  if (upload.declaredSha256 && upload.declaredSha256 !== upload.sha256) rows.push(['declared sha256', upload.declaredSha256]);
  rows.push(['created', formatTime(upload.createdAt)]);
  if (upload.completedAt) rows.push(['completed', formatTime(upload.completedAt)]);
  else if (!['completed', 'failed', 'aborted', 'expired'].includes(upload.state)) rows.push(['expires', formatTime(upload.expiresAt)]);
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}\n`).join('');
}

export const statusCommand: Command = {
  name: 'status',
  synopsis: 'status <id>',
  summary: 'show one upload: state, progress, SHA-256',
  help: `Usage: tessera status <id> [--json]

Shows one of your uploads: its state, how much was received and stored, and its SHA-256
once completed.

Options:
  --json       print the upload as JSON (the API's view of it)
  -h, --help   show this help

Exit codes: 0 ok, 1 failure (for example, no such upload), 2 usage error.
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('status', args, OPTIONS);
    if (values.help) {
      io.stdout.write(statusCommand.help);
      return EXIT.ok;
    }
    const id = uploadIdArgument(positionals, 'status');
    const { config, client } = connect(io, { retries: 2 });
    try {
      const upload = await client.get(id);
      if (values.json) printJson(io, upload);
      else io.stdout.write(describeUpload(upload));
      return EXIT.ok;
    } catch (error) {
      io.stderr.write(`tessera: ${explain(error, { baseUrl: config.baseUrl, uploadId: id })}\n`);
      return EXIT.failure;
    } finally {
      client.close();
    }
  },
};
