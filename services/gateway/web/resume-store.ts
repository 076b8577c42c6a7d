/** What is remembered of an unfinished upload, so choosing the same file again continues it. */
export interface Resumable {
  uploadId: string;
  name: string;
  size: number;
  lastModified: number;
  /** When the server gives up on the upload (its `expiresAt`); after that it cannot be resumed. */
  expiresAt: string | null;
  savedAt: number;
}

const KEY = 'tessera.resumable.v1';

/** The same file, as far as a browser can tell without reading it: name, size and modification time. */
export function fingerprint(file: { name: string; size: number; lastModified: number }): string {
  return JSON.stringify([file.name, file.size, file.lastModified]);
}

/** Unfinished uploads by file fingerprint, in localStorage (so a reload or a new tab still knows them). */
export class ResumeStore {
  private read(): Record<string, Resumable> {
    try {
      const parsed = JSON.parse(localStorage.getItem(KEY) ?? '{}') as unknown;
      if (!parsed || typeof parsed !== 'object') return {};
      const now = Date.now();
      const entries = Object.entries(parsed as Record<string, Resumable>).filter(
        ([, r]) => r && typeof r.uploadId === 'string' && (r.expiresAt === null || Date.parse(r.expiresAt) > now),
      );
      return Object.fromEntries(entries);
    } catch {
      return {};
    }
  }

  private write(all: Record<string, Resumable>): void {
    try {
      if (Object.keys(all).length === 0) localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, JSON.stringify(all));
    } catch {
      // storage full or refused: uploads still work, they just cannot resume after a reload
    }
  }

  all(): Resumable[] {
    return Object.values(this.read()).sort((a, b) => b.savedAt - a.savedAt);
  }

  get(file: File): Resumable | null {
    return this.read()[fingerprint(file)] ?? null;
  }

  put(file: File, uploadId: string, expiresAt: string | null): void {
    const all = this.read();
    all[fingerprint(file)] = { uploadId, name: file.name, size: file.size, lastModified: file.lastModified, expiresAt, savedAt: Date.now() };
    this.write(all);
  }

  remove(file: File): void {
    const all = this.read();
    delete all[fingerprint(file)];
    this.write(all);
  }
}
