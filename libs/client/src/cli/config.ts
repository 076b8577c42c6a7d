import { homedir } from 'node:os';
import { join } from 'node:path';

/** What the CLI needs from the environment to talk to a Tessera deployment. */
export interface CliConfig {
  /** The gateway, without a trailing slash. */
  baseUrl: string;
  /** The progress socket (notifier); undefined lets the client use the gateway's address. */
  notifierUrl: string | undefined;
  token: string;
}

/** The environment is missing or wrong: reported with exit code 2, before anything is sent. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function httpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL such as http://localhost:3000; got '${value}'.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an http(s) URL such as http://localhost:3000; got '${value}'.`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** Reads TESSERA_URL, TESSERA_NOTIFIER_URL and TESSERA_TOKEN; every problem is named in one message. */
export function loadCliConfig(env: NodeJS.ProcessEnv): CliConfig {
  const problems: string[] = [];
  const url = env.TESSERA_URL?.trim();
  const token = env.TESSERA_TOKEN?.trim();
  const notifier = env.TESSERA_NOTIFIER_URL?.trim();
  if (!url) {
    problems.push(
      'TESSERA_URL is not set: set it to the gateway\'s address, for example\n' +
        '  export TESSERA_URL=http://localhost:3000   # where `npm start` runs the gateway',
    );
  }
  if (!token) {
    problems.push(
      'TESSERA_TOKEN is not set: set TESSERA_TOKEN to a bearer token (a JWT signed with the gateway\'s AUTH_JWT_SECRET);\n' +
        'with `npm start` in development, use the development token it prints:\n' +
        '  export TESSERA_TOKEN=<the value after "export TOKEN=">',
    );
  }
  let baseUrl = '';
  let notifierUrl: string | undefined;
  try {
    if (url) baseUrl = httpUrl('TESSERA_URL', url);
  } catch (error) {
    problems.push((error as Error).message);
  }
  try {
    if (notifier) notifierUrl = httpUrl('TESSERA_NOTIFIER_URL', notifier);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return { baseUrl, notifierUrl, token: token!.replace(/^Bearer\s+/i, '') };
}

/**
 * Where interrupted uploads are remembered: `$TESSERA_STATE_DIR/uploads.json`, else
 * `${XDG_STATE_HOME:-~/.local/state}/tessera/uploads.json`.
 */
export function stateFile(env: NodeJS.ProcessEnv): string {
  if (env.TESSERA_STATE_DIR) return join(env.TESSERA_STATE_DIR, 'uploads.json');
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'tessera', 'uploads.json');
}
