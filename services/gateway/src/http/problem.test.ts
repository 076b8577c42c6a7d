import { toProblem } from './problem';

const withCode = (message: string, code: string, name = 'Error') => Object.assign(new Error(message), { code, name });

describe('toProblem', () => {
  it.each([
    ['PostgreSQL refusing connections', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['PostgreSQL shutting down', withCode('terminating connection due to administrator command', '57P01')],
    ['a transaction that lost a deadlock', withCode('deadlock detected', '40P01', 'DeadlockException')],
    ['a serialization failure', withCode('could not serialize access', '40001')],
    ['Redis giving up on a command', Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' })],
    ['a connection lost under a query', new Error('Client has encountered a connection error and is not queryable')],
    ['a transaction whose connection died', Object.assign(new Error('commit - Transaction query already complete, run with DEBUG=knex:tx for more info'), { name: 'DriverException' })],
    ['an exhausted connection pool', Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' })],
  ])('answers %s with 503 and Retry-After, not as a bug', (_what, error) => {
    const { problem, headers, internal } = toProblem(error);
    expect(problem).toMatchObject({ type: 'service-unavailable', status: 503 });
    expect(Number(headers['Retry-After'])).toBeGreaterThan(0);
    expect(internal).toBe(false);
  });

  it('answers anything unexpected with 500 and a detail that leaks nothing', () => {
    const { problem, internal } = toProblem(new TypeError("Cannot read properties of undefined (reading 'id') at /srv/app.js:1:2"));
    expect(problem).toMatchObject({ type: 'internal-error', status: 500 });
    expect(JSON.stringify(problem)).not.toMatch(/Cannot read|app\.js/);
    expect(internal).toBe(true);
  });
});
