import {
  AbortUpload,
  AcceptChunk,
  ChunkIntake,
  ConcatenateFinals,
  CreateTusUpload,
  CreateUpload,
  GetUpload,
  ListUploads,
  ReadContent,
  ReceiveFileStream,
  TusStatus,
  WriteTusBytes,
  type BlobStore,
  type ChunkQueue,
  type Clock,
  type IdGenerator,
  type ProgressPublisher,
  type TusRepository,
  type TusSettings,
  type UploadRepository,
} from '@tessera/domain';
import type { GatewayUseCases } from './app';

export interface GatewayPorts {
  repo: UploadRepository;
  tus: TusRepository;
  blobs: BlobStore;
  queue: ChunkQueue;
  publisher: ProgressPublisher;
  ids: IdGenerator;
  clock: Clock;
}

/** The gateway's use cases over whatever adapters fill the ports (real ones in the container, fakes in tests). */
export function gatewayUseCases(ports: GatewayPorts, settings: TusSettings): GatewayUseCases {
  const { repo, tus, blobs, queue, publisher, ids, clock } = ports;
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
    createTusUpload: new CreateTusUpload(repo, tus, new ConcatenateFinals(tus, queue, clock), ids, clock, settings),
    writeTusBytes: new WriteTusBytes(repo, tus, blobs, intake, queue, ids, clock, settings),
    tusStatus: new TusStatus(repo, tus, clock),
  };
}
