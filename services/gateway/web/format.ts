const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 40 MiB, 1.5 GiB, 512 B. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** 12 s, 3 min 4 s, 1 h 2 min. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Whole percent, rounded down: 100 only when `part` reaches `whole`. */
export function percentOf(part: number, whole: number): number {
  if (whole <= 0) return part >= whole ? 100 : 0;
  return Math.max(0, Math.min(100, Math.floor((part / whole) * 100)));
}

export function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * Bytes per second over the last few seconds of samples. Reset when sending restarts after
 * a pause, so the pause does not count as slowness.
 */
export class SpeedMeter {
  private samples: { at: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 5000) {}

  reset(bytes: number, at = performance.now()): void {
    this.samples = [{ at, bytes }];
  }

  add(bytes: number, at = performance.now()): void {
    this.samples.push({ at, bytes });
    const oldest = at - this.windowMs;
    while (this.samples.length > 2 && this.samples[0]!.at < oldest) this.samples.shift();
  }

  /** null until there is enough to say. */
  speed(now = performance.now()): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last === first) return null;
    const elapsed = Math.max(now, last.at) - first.at;
    if (elapsed < 300) return null;
    return ((last.bytes - first.bytes) * 1000) / elapsed;
  }
}
