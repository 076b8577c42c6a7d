import type { Job } from 'bullmq';
import type { SweepReport, SweepUploads } from '@tessera/domain';
import type { Logger } from '../logger';

/** The `sweep` queue's processor: one periodic clean-up run, reported when it did anything. */
export function sweepProcessor(sweepUploads: SweepUploads, logger: Logger): (job: Job) => Promise<SweepReport> {
  return async (job) => {
    const log = logger.child({ jobId: job.id, queue: job.queueName });
    try {
      const report = await sweepUploads.execute();
      const changed = report.expired + report.stagingFoldersRemoved + report.unrecordedBlobsRemoved > 0;
      if (changed) log.info(report, 'sweep expired abandoned uploads and removed bytes nothing needs any more');
      else log.debug(report, 'sweep found nothing to clean');
      return report;
    } catch (error) {
      // The next run starts from scratch; nothing is half done that it cannot finish.
      log.warn({ err: error }, 'sweep failed part-way; the next scheduled run picks up where it stopped');
      throw error;
    }
  };
}
