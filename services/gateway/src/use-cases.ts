import {
  AbortUpload,
  AcceptChunk,
  ChunkIntake,
  CreateUpload,
  GetUpload,
  ListUploads,
  ReadContent,
  ReceiveFileStream,
  type BlobStore,
  type ChunkQueue,
  type Clock,
  type IdGenerator,
  type ProgressPublisher,
  type UploadRepository,
  type UploadSettings,
} from '@tessera/domain';
import type { GatewayUseCases } from './app';

export interface GatewayPorts {
  repo: UploadRepository;
  blobs: BlobStore;
  queue: ChunkQueue;
  publisher: ProgressPublisher;
  ids: IdGenerator;
  clock: Clock;
}

/** The gateway's use cases over whatever adapters fill the ports (real ones in the container, fakes in tests). */
export function gatewayUseCases(ports: GatewayPorts, settings: UploadSettings): GatewayUseCases {
  const { repo, blobs, queue, publisher, ids, clock } = ports;
  const intake = new ChunkIntake(repo, blobs, queue, ids, clock, settings);
  const abortUpload = new AbortUpload(repo, blobs, publisher, clock);
  return {
    createUpload: new CreateUpload(repo, ids, clock, settings),
    acceptChunk: new AcceptChunk(repo, intake, clock),
    getUpload: new GetUpload(repo),
    listUploads: new ListUploads(repo),
    abortUpload,
    readContent: new ReadContent(repo, blobs),
    receiveFileStream: new ReceiveFileStream(repo, intake, queue, abortUpload, ids, clock, settings),
  };
}
