import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParsedArgs<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** A mistake in the command line: reported with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose `--help` to point at. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs` in strict mode, with its errors (unknown option, missing value…) turned into
 * UsageErrors that name the command.
 */
export function parseCommandArgs<O extends OptionsConfig>(command: string, args: string[], options: O): ParsedArgs<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '.');
    throw new UsageError(message, command);
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/**
 * A byte count: `8MiB`, `512KiB`, `1048576`, `1.5MiB`; `K`/`M`/`G` alone are binary (as in
 * dd and curl), `KB`/`MB`/`GB` decimal.
 */
export function parseSize(text: string, what: string, command: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new UsageError(`${what} must be a size such as 8MiB, 512KiB or a number of bytes; got '${text}'.`, command);
  }
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError(`${what} must be a whole, positive number of bytes; '${text}' is ${bytes} bytes.`, command);
  }
  return bytes;
}

/** A whole number from `min` to `max`. */
export function parseInteger(text: string, what: string, command: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(`${what} must be a whole number ${range}; got '${text}'.`, command);
  }
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The one upload id a command takes, checked to look like one. */
export function uploadIdArgument(positionals: string[], command: string): string {
  if (positionals.length === 0) throw new UsageError('Give the id of an upload (`tessera ls` lists them).', command);
  if (positionals.length > 1) throw new UsageError(`Give one upload id; got ${positionals.length} arguments.`, command);
  const id = positionals[0]!;
  if (!UUID.test(id)) throw new UsageError(`'${id}' is not an upload id (ids look like 0197a3c2-5f1e-7d40-9b2a-3c4d5e6f7a8b; \`tessera ls\` lists them).`, command);
  return id.toLowerCase();
}
