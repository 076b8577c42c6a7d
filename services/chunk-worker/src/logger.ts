import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout, one per event, tagged with the service name. */
export function createLogger(level: string): Logger {
  return pino({ name: 'chunk-worker', level, base: { service: 'chunk-worker' } });
}
