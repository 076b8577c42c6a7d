export interface IdGenerator {
  /** A new UUIDv7 (time-ordered, so ids sort by creation). */
  uploadId(): string;
  /** A short random token, URL- and filename-safe. */
  token(): string;
}
