import { ValidationError } from '../shared/errors';
import { parseTusMetadata } from './tus-metadata';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const pair = (key: string, text: string) => `${key} ${b64(text)}`;

/** The ValidationError `header` is refused with (fails the test if it is accepted). */
function refusal(header: string): ValidationError {
  try {
    parseTusMetadata(header);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`"${header}" was accepted`);
}

describe(parseTusMetadata.name, () => {
  it('decodes comma-separated key and base64 value pairs', () => {
    const header = [pair('filename', 'résumé.pdf'), pair('filetype', 'application/pdf'), pair('project', 'apollo 11')].join(',');
    expect(parseTusMetadata(header)).toEqual({
      metadata: { filename: 'résumé.pdf', filetype: 'application/pdf', project: 'apollo 11' },
      filename: 'résumé.pdf',
      contentType: 'application/pdf',
    });
  });

  it.each([undefined, '', '   '])('reads an absent or blank header (%p) as no metadata', (header) => {
    expect(parseTusMetadata(header)).toEqual({ metadata: {}, filename: null, contentType: null });
  });

  it('reads a key without a value as an empty value', () => {
    expect(parseTusMetadata(`is_confidential,${pair('name', 'a.txt')}`).metadata).toEqual({ is_confidential: '', name: 'a.txt' });
  });

  it('takes name and type when filename and filetype are absent', () => {
    expect(parseTusMetadata([pair('name', 'photo.jpg'), pair('type', 'image/jpeg')].join(','))).toMatchObject({ filename: 'photo.jpg', contentType: 'image/jpeg' });
  });

  it('prefers filename and filetype over name and type, whatever the order', () => {
    const header = [pair('type', 'text/plain'), pair('name', 'other.txt'), pair('filetype', 'text/csv'), pair('filename', 'chosen.csv')].join(',');
    expect(parseTusMetadata(header)).toMatchObject({ filename: 'chosen.csv', contentType: 'text/csv' });
  });

  it('refuses a key named twice with ValidationError', () => {
    const error = refusal([pair('filename', 'a'), pair('filename', 'b')].join(','));
    expect(error.issues).toEqual([expect.objectContaining({ path: 'Upload-Metadata.filename' })]);
  });

  it.each([
    ['characters outside the alphabet', 'filename a*b$'],
    ['a length that is not a multiple of 4 (unpadded)', `filename ${b64('a').replace(/=+$/, '')}`],
    ['padding in the middle', 'filename YQ==YQ=='],
    ['base64url characters', `filename ${Buffer.from([0xfb, 0xff]).toString('base64url')}A`],
  ])('refuses a value that is not base64 (%s) with ValidationError naming the key', (_case, header) => {
    expect(refusal(header).issues).toEqual([expect.objectContaining({ path: 'Upload-Metadata.filename' })]);
  });

  it('leaves a value that is not UTF-8 text out of the metadata, without refusing the header', () => {
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x81]).toString('base64');
    expect(parseTusMetadata(`checksum ${binary},${pair('filename', 'a.bin')}`)).toEqual({ metadata: { filename: 'a.bin' }, filename: 'a.bin', contentType: null });
    expect(parseTusMetadata(`filename ${binary}`)).toEqual({ metadata: {}, filename: null, contentType: null });
  });

  it('ignores spaces around pairs', () => {
    const header = `  ${pair('filename', 'a.txt')} ,   ${pair('filetype', 'text/plain')}  `;
    expect(parseTusMetadata(header)).toEqual({ metadata: { filename: 'a.txt', filetype: 'text/plain' }, filename: 'a.txt', contentType: 'text/plain' });
  });

  it.each([
    ['two spaces between key and value', `filename  ${b64('a')}`],
    ['a space inside the value', `filename ${b64('a')} ${b64('b')}`],
    ['an empty pair between commas', `${pair('a', 'x')},,${pair('b', 'y')}`],
    ['a trailing comma', `${pair('a', 'x')},`],
    ['a key that is not printable ASCII', pair('clé', 'x')],
  ])('refuses %s with ValidationError', (_case, header) => {
    refusal(header);
  });

  it('keeps values it cannot store (NUL, too long) and keys that are too long out of the metadata', () => {
    const header = [pair('nul', 'a\u0000b'), pair('long', 'x'.repeat(1_025)), pair('k'.repeat(65), 'v'), pair('fine', 'ok')].join(',');
    expect(parseTusMetadata(header).metadata).toEqual({ fine: 'ok' });
  });

  it('keeps the first 32 entries only', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `key${String(i).padStart(2, '0')}`);
    const { metadata } = parseTusMetadata(keys.map((key) => pair(key, key)).join(','));
    expect(Object.keys(metadata)).toEqual(keys.slice(0, 32));
  });

  it('strips any path from the filename, and drops a filename that is nothing but a path', () => {
    expect(parseTusMetadata(pair('filename', '../../etc/passwd')).filename).toBe('passwd');
    expect(parseTusMetadata(pair('filename', 'C:\\Users\\me\\notes.txt')).filename).toBe('notes.txt');
    expect(parseTusMetadata(pair('filename', 'dir/')).filename).toBeNull();
  });

  it('drops a filetype that is not a MIME type, keeping it in the metadata', () => {
    expect(parseTusMetadata(pair('filetype', 'not a type'))).toEqual({ metadata: { filetype: 'not a type' }, filename: null, contentType: null });
  });

  it('refuses a key named twice also when its first value is not UTF-8 text', () => {
    const binary = Buffer.from([0xff, 0xfe]).toString('base64');
    refusal(`note ${binary},${pair('note', 'text')}`);
  });

  it.each(['constructor', 'toString'])('accepts "%s", a key that is also a property of every JavaScript object', (key) => {
    expect(parseTusMetadata(pair(key, 'value')).metadata).toEqual({ [key]: 'value' });
  });
});
