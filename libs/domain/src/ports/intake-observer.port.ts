/**
 * Told of every chunk whose bytes the gateway durably staged and queued (for metrics such
 * as bytes received per protocol). Called synchronously on the request's path: it must be
 * cheap and must not throw.
 */
export interface IntakeObserver {
  chunkReceived(chunk: { uploadId: string; index: number; bytes: number }): void;
}
