import { isDependencyUnavailable } from './dependency-unavailable';

describe(isDependencyUnavailable.name, () => {
  it('recognises an outage by code, by name, by driver message, or as the cause of a wrapping error', () => {
    expect(isDependencyUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDependencyUnavailable(Object.assign(new Error('the database system is starting up'), { code: '57P03' }))).toBe(true);
    expect(isDependencyUnavailable(new Error('Client has encountered a connection error and is not queryable'))).toBe(true);
    expect(isDependencyUnavailable(new Error('Storing chunk 3 failed', { cause: Object.assign(new Error('x'), { code: '08006' }) }))).toBe(true);
  });

  it('recognises an S3-compatible store that throttles or fails on its side', () => {
    expect(isDependencyUnavailable(Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' }))).toBe(true);
    expect(isDependencyUnavailable(Object.assign(new Error('UnknownError'), { $metadata: { httpStatusCode: 502 } }))).toBe(true);
    expect(isDependencyUnavailable(Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError' }))).toBe(true);
    expect(isDependencyUnavailable(Object.assign(new Error('getaddrinfo EAI_AGAIN minio'), { code: 'EAI_AGAIN' }))).toBe(true);
    expect(isDependencyUnavailable(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }))).toBe(false);
  });

  it('leaves bugs and bad data alone', () => {
    expect(isDependencyUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isDependencyUnavailable(Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02' }))).toBe(false);
    expect(isDependencyUnavailable('ECONNREFUSED')).toBe(false);
  });
});
