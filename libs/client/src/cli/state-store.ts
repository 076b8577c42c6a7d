import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** What identifies "the same file on the same server": a changed file is a new upload. */
export interface Fingerprint {
  /** The gateway's URL. */
  server: string;
  /** Absolute path. */
  path: string;
  size: number;
  mtimeMs: number;
}

/** An upload started from a file and not completed yet. */
export interface ResumeEntry extends Fingerprint {
  uploadId: string;
  filename: string;
  chunkSize: number;
  /** When the upload was created, ISO. */
  createdAt: string;
}

interface StateFile {
  version: 1;
  uploads: Record<string, ResumeEntry>;
}

function keyOf(fp: Fingerprint): string {
  return JSON.stringify([fp.server, fp.path, fp.size, fp.mtimeMs]);
}

/**
 * The uploads this machine started and may resume, in one JSON file. Every change re-reads
 * the file and replaces it atomically (write, then rename), so several `tessera` processes
 * do not corrupt it and each one's entries survive the others' writes.
 */
export class ResumeStore {
  constructor(readonly file: string) {}

  find(fp: Fingerprint): ResumeEntry | undefined {
    return this.read().uploads[keyOf(fp)];
  }

  /** Entries for the same path on the same server whose size or mtime differ: the file changed since. */
  findStale(fp: Fingerprint): ResumeEntry[] {
    return Object.values(this.read().uploads).filter((e) => e.server === fp.server && e.path === fp.path && keyOf(e) !== keyOf(fp));
  }

  save(entry: ResumeEntry): void {
    this.change((state) => {
      state.uploads[keyOf(entry)] = entry;
    });
  }

  remove(fp: Fingerprint): void {
    this.change((state) => {
      delete state.uploads[keyOf(fp)];
    });
  }

  /** Forgets every entry of this upload (after `tessera rm`, or when the server no longer has it). */
  removeUpload(server: string, uploadId: string): void {
    this.change((state) => {
      for (const [key, entry] of Object.entries(state.uploads)) {
        if (entry.server === server && entry.uploadId === uploadId) delete state.uploads[key];
      }
    });
  }

  private read(): StateFile {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, uploads: {} };
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as Partial<StateFile>;
      if (parsed && typeof parsed.uploads === 'object' && parsed.uploads !== null) return { version: 1, uploads: parsed.uploads };
    } catch {
      // unreadable: treated as empty below; the next save replaces it
    }
    return { version: 1, uploads: {} };
  }

  private change(edit: (state: StateFile) => void): void {
    const state = this.read();
    edit(state);
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.file);
  }
}
