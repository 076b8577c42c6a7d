import { rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { downloadToFile } from '../../node';
import { parseCommandArgs, uploadIdArgument } from '../args';
import { connect, EXIT, printJson, type Command } from '../context';
import { explain, isTesseraError } from '../explain';
import { formatBytes } from '../format';

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  force: { type: 'boolean', short: 'f' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The upload's filename made safe as a name in the current directory. */
function localName(filename: string, id: string): string {
  // eslint-disable-next-line no-control-regex
  const name = basename(filename.replace(/[\u0000-\u001f\u007f]/g, '').replace(/\\/g, '/'));
  return name === '' || name === '.' || name === '..' ? id : name;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export const downloadCommand: Command = {
  name: 'download',
  synopsis: 'download <id> [-o FILE]',
  summary: 'download a completed upload, verifying its SHA-256',
  help: `Usage: tessera download <id> [-o file] [--force] [--json]

Downloads a completed upload and verifies its SHA-256 on the way. The bytes go to a
temporary file next to the target, which is put in place only once verified: a failed or
interrupted download leaves nothing behind.

Options:
  -o, --output F   where to save it (default: the upload's file name in the current
                   directory; a directory means that name inside it)
  -f, --force      replace the file if it exists (by default an existing file is never
                   overwritten)
  --json           print {"id", "path", "size", "sha256"} as JSON
  -h, --help       show this help

Exit codes: 0 saved, 1 failure (not found, not completed, file exists, digest mismatch),
2 usage error, 130 interrupted.
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('download', args, OPTIONS);
    if (values.help) {
      io.stdout.write(downloadCommand.help);
      return EXIT.ok;
    }
    const id = uploadIdArgument(positionals, 'download');
    const { config, client } = connect(io, { retries: 3 });
    let temp: string | null = null;
    io.onInterrupt(() => {
      if (temp) rmSync(temp, { force: true });
      io.stderr.write('\nInterrupted: nothing was saved.\n');
      process.exit(EXIT.interrupted);
    });
    try {
      const upload = await client.get(id);
      if (upload.state !== 'completed') {
        io.stderr.write(
          `tessera: upload ${id} (${upload.filename}) is ${upload.state}: only completed uploads can be downloaded.\n` +
            (['pending', 'receiving', 'finalizing'].includes(upload.state) ? '`tessera status <id>` shows how far it is.\n' : ''),
        );
        return EXIT.failure;
      }
      const requested = values.output === undefined ? null : resolve(io.cwd, values.output);
      const target = requested === null ? join(io.cwd, localName(upload.filename, id)) : isDirectory(requested) ? join(requested, localName(upload.filename, id)) : requested;
      if (!values.force && exists(target)) {
        io.stderr.write(`tessera: ${target} already exists; it was left as it is.\nPass --force to overwrite it, or -o to save elsewhere.\n`);
        return EXIT.failure;
      }
      // downloadToFile writes next to the target and puts it in place only once verified.
      temp = `${target}.tessera-partial`;
      let result: { sha256: string; size: number };
      try {
        result = await downloadToFile(client, id, target, { overwrite: values.force === true });
      } catch (error) {
        if (!isTesseraError(error) || error.type !== 'file-exists') throw error;
        temp = null;
        io.stderr.write(`tessera: ${target} appeared while downloading; it was left as it is.\nPass --force to overwrite it, or -o to save elsewhere.\n`);
        return EXIT.failure;
      }
      temp = null;
      if (values.json) printJson(io, { id, path: target, size: result.size, sha256: result.sha256 });
      else io.stdout.write(`Saved ${target} (${formatBytes(result.size)}), SHA-256 verified: ${result.sha256}\n`);
      return EXIT.ok;
    } catch (error) {
      io.stderr.write(`tessera: ${explain(error, { baseUrl: config.baseUrl, uploadId: id })}\n`);
      return EXIT.failure;
    } finally {
      if (temp) rmSync(temp, { force: true });
      io.onInterrupt(null);
      client.close();
    }
  },
};
