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
  type IntakeObserver,
  type TusSettings,
  type UploadProtocol,
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
  /** Told of the bytes of every chunk staged, by the protocol they came over (metrics); optional. */
  intakeObserver?: (protocol: UploadProtocol) => IntakeObserver;
}

/** The gateway's use cases over whatever adapters fill the ports (real ones in the container, fakes in tests). */
export function gatewayUseCases(ports: GatewayPorts, settings: TusSettings): GatewayUseCases {
  const { repo, tus, blobs, queue, publisher, ids, clock } = ports;
  // One intake per protocol, so the bytes each stages are counted under its protocol.
  const intake = (protocol: UploadProtocol) => new ChunkIntake(repo, blobs, queue, ids, clock, settings, ports.intakeObserver?.(protocol));
  const abortUpload = new AbortUpload(repo, blobs, publisher, clock);
  return {
    createUpload: new CreateUpload(repo, ids, clock, settings),
    acceptChunk: new AcceptChunk(repo, intake('native'), clock),
    getUpload: new GetUpload(repo),
    listUploads: new ListUploads(repo),
    abortUpload,
    readContent: new ReadContent(repo, blobs),
    receiveFileStream: new ReceiveFileStream(repo, intake('form'), queue, abortUpload, ids, clock, settings),
    createTusUpload: new CreateTusUpload(repo, tus, new ConcatenateFinals(tus, queue, clock), ids, clock, settings),
    writeTusBytes: new WriteTusBytes(repo, tus, blobs, intake('tus'), queue, ids, clock, settings),
    tusStatus: new TusStatus(repo, tus, clock),
  };
}
