import { formatBytes, formatDuration, formatRate, percent, truncate } from './format';

export type Phase = 'queued' | 'starting' | 'uploading' | 'verifying' | 'completed' | 'paused' | 'failed';

/** The progress of one file, kept by the upload command and drawn by a renderer. */
export class FileProgress {
  phase: Phase = 'queued';
  /** Bytes the server has acknowledged, counting earlier runs of an upload being resumed. */
  sent = 0;
  /** Bytes stored and verified by the worker. */
  stored = 0;
  /** Bytes sent by this process. */
  sentThisRun = 0;
  /** Short text shown after the numbers: a retry, a failure. */
  note = '';
  uploadId: string | null = null;
  private startedAt = 0;
  /** When the last chunk was acknowledged: the average speed ends there, not at verification. */
  private lastSentAt = 0;
  /** (time ms, sentThisRun) pairs of the last few seconds, for the speed. */
  private samples: Array<[number, number]> = [];

  constructor(
    readonly label: string,
    readonly size: number,
  ) {}

  start(now = Date.now()): void {
    this.startedAt = now;
    this.samples = [[now, this.sentThisRun]];
  }

  addSent(bytes: number, total: number, now = Date.now()): void {
    this.sentThisRun += bytes;
    this.sent = Math.max(this.sent, total);
    this.lastSentAt = now;
    this.samples.push([now, this.sentThisRun]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > 5000) this.samples.shift();
  }

  end(phase: Phase): void {
    this.phase = phase;
  }

  /** Bytes per second: over the last seconds while sending, the average once finished. */
  speed(now = Date.now()): number {
    if (this.startedAt === 0) return 0;
    if (this.phase !== 'uploading') return this.lastSentAt > this.startedAt ? this.sentThisRun / ((this.lastSentAt - this.startedAt) / 1000) : 0;
    const [t0, b0] = this.samples[0] ?? [this.startedAt, 0];
    const elapsed = (now - t0) / 1000;
    // A stall shows as a falling speed rather than the last good one.
    return elapsed < 0.25 ? 0 : (this.sentThisRun - b0) / elapsed;
  }

  /** Seconds until every byte is sent, at the current speed. */
  eta(now = Date.now()): number {
    const speed = this.speed(now);
    return speed > 0 ? (this.size - this.sent) / speed : Number.NaN;
  }
}

export interface Renderer {
  /** Something changed: drawn at the next frame (TTY) or line (plain). */
  changed(): void;
  /** A message printed above the bars (TTY) or as its own line. */
  message(text: string): void;
  /** Draws the last frame and releases the terminal. */
  stop(): void;
}

export interface RendererOptions {
  /** Redraw in place with ANSI cursor moves; otherwise print lines. */
  tty: boolean;
  /** Plain mode: at most one progress line per file this often, ms (default 1000). */
  intervalMs?: number;
}

export function createRenderer(stream: NodeJS.WritableStream & { columns?: number; rows?: number }, files: FileProgress[], options: RendererOptions): Renderer {
  return options.tty ? new TtyRenderer(stream, files) : new PlainRenderer(stream, files, options.intervalMs ?? 1000);
}

/** Stays silent (for `--quiet`). */
export const silentRenderer: Renderer = { changed() {}, message() {}, stop() {} };

/** `███▒▒░░░`: stored, then sent but not stored yet, then the rest. */
function bar(file: FileProgress, width: number): string {
  const cells = (bytes: number) => (file.size === 0 ? width : Math.floor((bytes / file.size) * width));
  const stored = Math.min(width, cells(file.stored));
  const sent = Math.max(stored, Math.min(width, cells(file.sent)));
  return `${'█'.repeat(stored)}${'▒'.repeat(sent - stored)}${'░'.repeat(width - sent)}`;
}

/** `12.0/45.8 MiB`, or `512.0 KiB/45.8 MiB` when the units differ. */
function amounts(part: number, total: number): string {
  const [a, b] = [formatBytes(part), formatBytes(total)];
  const [unitA, unitB] = [a.split(' ')[1], b.split(' ')[1]];
  return unitA === unitB ? `${a.split(' ')[0]}/${b}` : `${a}/${b}`;
}

function tail(file: FileProgress, now: number): string {
  switch (file.phase) {
    case 'queued':
      return 'waiting';
    case 'starting':
      return 'starting';
    case 'uploading':
      return `${formatRate(file.speed(now)).padStart(12)}  ETA ${formatDuration(file.eta(now))}`;
    case 'verifying':
      return 'sent; verifying';
    case 'completed':
      return file.sentThisRun > 0 ? `done, ${formatRate(file.speed(now))}` : 'done';
    case 'paused':
      return 'paused';
    case 'failed':
      return 'failed';
  }
}

/** Room for speed and ETA (`123.4 MiB/s  ETA 59m59s`). */
const TAIL_WIDTH = 24;

/** One line per file, rewritten in place at most ten times a second. */
class TtyRenderer implements Renderer {
  private drawn = 0;
  private dirty = true;
  private lastDraw = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly labelWidth: number;
  private readonly restoreCursor = () => this.stream.write('\x1b[?25h');

  constructor(
    private readonly stream: NodeJS.WritableStream & { columns?: number; rows?: number },
    private readonly files: FileProgress[],
  ) {
    this.labelWidth = Math.min(24, Math.max(4, ...files.map((f) => f.label.length)));
    this.stream.write('\x1b[?25l');
    process.once('exit', this.restoreCursor);
    this.timer = setInterval(() => {
      // Redraw when something changed, and every second anyway so speed and ETA stay fresh.
      if (this.dirty || Date.now() - this.lastDraw >= 1000) this.draw();
    }, 100);
    this.timer.unref();
  }

  changed(): void {
    this.dirty = true;
  }

  message(text: string): void {
    this.stream.write(`${this.clear()}${text.replace(/\n?$/, '\n')}`);
    this.drawn = 0;
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
    this.restoreCursor();
    process.removeListener('exit', this.restoreCursor);
  }

  /** Moves the cursor back to the first line of the bars and clears them. */
  private clear(): string {
    return this.drawn > 0 ? `\x1b[${this.drawn}A\r\x1b[0J` : '';
  }

  private draw(): void {
    const now = Date.now();
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    const lines = this.visible().map((file) => truncate(typeof file === 'string' ? file : this.line(file, now, width), width));
    this.stream.write(`${this.clear()}${lines.map((l) => `${l}\n`).join('')}`);
    this.drawn = lines.length;
    this.dirty = false;
    this.lastDraw = now;
  }

  /** Every file, or on a short terminal the unfinished ones first and a count of the rest. */
  private visible(): Array<FileProgress | string> {
    const room = Math.max(3, (this.stream.rows ?? 24) - 2);
    if (this.files.length <= room) return this.files;
    const active = this.files.filter((f) => f.phase !== 'queued' && f.phase !== 'completed').slice(0, room - 1);
    const done = this.files.filter((f) => f.phase === 'completed').length;
    const queued = this.files.filter((f) => f.phase === 'queued').length;
    return [...active, `… ${this.files.length - active.length} more: ${done} completed, ${queued} waiting`];
  }

  private line(file: FileProgress, now: number, columns: number): string {
    const pct = `${percent(file.sent, file.size)}%`.padStart(4);
    const sizes = amounts(file.sent, file.size).padStart(15);
    const stored = `stored ${percent(file.stored, file.size)}%`.padEnd(11);
    const note = file.note ? `  ${file.note}` : '';
    const rest = ` ${pct}  ${sizes}  ${stored}  ${tail(file, now).padEnd(TAIL_WIDTH)}`;
    // Every bar gets the room the terminal has left (10 to 30 cells), the same on each line.
    const barWidth = Math.max(10, Math.min(30, columns - this.labelWidth - 2 - (1 + 4 + 2 + 15 + 2 + 11 + 2 + TAIL_WIDTH)));
    const label = truncate(file.label, this.labelWidth).padEnd(this.labelWidth);
    return `${label}  ${bar(file, barWidth)}${rest}${note}`.trimEnd();
  }
}

/** Lines for logs and pipes: a line when a file changes phase, and at most one per interval while it progresses. */
class PlainRenderer implements Renderer {
  private readonly printed = new Map<FileProgress, { phase: Phase; sent: number; stored: number; at: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly files: FileProgress[],
    private readonly intervalMs: number,
  ) {
    this.timer = setInterval(() => this.flush(false), Math.max(50, Math.min(intervalMs, 1000)));
    this.timer.unref();
  }

  changed(): void {
    this.flush(false);
  }

  message(text: string): void {
    this.stream.write(text.replace(/\n?$/, '\n'));
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush(true);
  }

  private flush(final: boolean): void {
    const now = Date.now();
    for (const file of this.files) {
      const last = this.printed.get(file);
      const moved = !last || last.sent !== file.sent || last.stored !== file.stored;
      const phaseChanged = !last || last.phase !== file.phase;
      // Nothing to say until the first chunk of this run is acknowledged (the upload's id was printed).
      if (file.phase === 'queued' || file.phase === 'starting' || (file.phase === 'uploading' && file.sentThisRun === 0)) continue;
      // Progress lines only while uploading; the other phases print once, when they begin.
      if (!phaseChanged && !(moved && (file.phase === 'uploading' || file.phase === 'verifying') && (final || now - last.at >= this.intervalMs))) continue;
      this.printed.set(file, { phase: file.phase, sent: file.sent, stored: file.stored, at: now });
      this.stream.write(`${this.line(file, now)}\n`);
    }
  }

  private line(file: FileProgress, now: number): string {
    const sent = `sent ${formatBytes(file.sent)} of ${formatBytes(file.size)} (${percent(file.sent, file.size)}%)`;
    const stored = `stored ${formatBytes(file.stored)} (${percent(file.stored, file.size)}%)`;
    const note = file.note ? `; ${file.note}` : '';
    switch (file.phase) {
      case 'uploading':
        return `${file.label}: ${sent}, ${stored}, ${formatRate(file.speed(now))}, ETA ${formatDuration(file.eta(now))}${note}`;
      case 'verifying':
        return `${file.label}: ${sent}, ${stored}; waiting for the server to verify${note}`;
      case 'completed':
        return `${file.label}: completed, ${formatBytes(file.size)}${file.sentThisRun > 0 ? `; sent ${formatBytes(file.sentThisRun)} at ${formatRate(file.speed(now))}` : ''}`;
      case 'paused':
        return `${file.label}: paused, ${sent}, ${stored}`;
      case 'failed':
        return `${file.label}: failed${note}`;
      default:
        return `${file.label}: ${file.phase}`;
    }
  }
}
