import type { Job } from 'bullmq';
import { attemptInfo, retryNote } from './attempts';

const job = (attemptsMade: number, opts: Partial<Job['opts']>): Job => ({ attemptsMade, opts }) as unknown as Job;

describe(attemptInfo.name, () => {
  it('predicts the exponential backoff BullMQ applies after this attempt', () => {
    const backoff = { type: 'exponential', delay: 1000 };

    expect(attemptInfo(job(0, { attempts: 5, backoff }))).toEqual({ attempt: 1, attempts: 5, final: false, retryInMs: 1000 });
    expect(attemptInfo(job(2, { attempts: 5, backoff }))).toEqual({ attempt: 3, attempts: 5, final: false, retryInMs: 4000 });
  });

  it('marks the last attempt final, with no retry', () => {
    expect(attemptInfo(job(4, { attempts: 5, backoff: 1000 }))).toMatchObject({ final: true, retryInMs: null });
    expect(attemptInfo(job(0, {}))).toMatchObject({ attempt: 1, attempts: 1, final: true });
  });

  it('reads fixed and numeric backoffs, and says when it cannot tell', () => {
    expect(attemptInfo(job(1, { attempts: 3, backoff: { type: 'fixed', delay: 250 } })).retryInMs).toBe(250);
    expect(attemptInfo(job(1, { attempts: 3, backoff: 300 })).retryInMs).toBe(300);
    const custom = attemptInfo(job(1, { attempts: 3, backoff: { type: 'custom' } }));
    expect(retryNote(custom)).toBe('retrying per its backoff (attempt 2 of 3 failed)');
  });
});
