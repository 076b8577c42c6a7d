/**
 * The problem `type` slugs clients may rely on, with the status each one comes with. They
 * are written out here rather than read from the code: a published slug that changes or
 * moves to another status breaks clients, and this list is what catches it.
 */
export const PUBLISHED_PROBLEMS = {
  'validation-failed': 400,
  'chunk-index-out-of-range': 400,
  'chunk-length-mismatch': 400,
  'chunk-incomplete': 400,
  unauthorized: 401,
  'not-found': 404,
  'chunk-already-received': 409,
  'upload-not-receiving': 409,
  'upload-not-completed': 409,
  'upload-expired': 410,
  'length-required': 411,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'range-not-satisfiable': 416,
  'expectation-failed': 417,
  'headers-too-large': 431,
  'request-timeout': 408,
  'too-many-uploads': 429,
  'rate-limited': 429,
  'offset-mismatch': 409,
  'upload-locked': 423,
  'checksum-mismatch': 460,
  'checksum-algorithm-unsupported': 400,
  'final-upload-not-writable': 403,
  'tus-version-unsupported': 412,
  forbidden: 403,
} as const;

export type ProblemType = keyof typeof PUBLISHED_PROBLEMS;

export interface AnswerLike {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Signs of an internal error leaking out: stack frames, or source positions (file:line:column). */
const LEAK = /\n\s+at\s|\bat\s+\S+\s+\(\/|\.[cm]?[jt]s:\d+:\d+/;

function header(answer: AnswerLike, name: string): string {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

/**
 * Everything a client may assume of any answer: no 5xx, and every refusal a problem
 * document with a published type matching its status and nothing of the server's insides.
 * Returns the problem (or null for a success) so callers can check its type.
 */
export function checkAnswer(answer: AnswerLike, request: string, options: { head?: boolean } = {}): { type: ProblemType; [k: string]: unknown } | null {
  const where = `${request} → ${answer.status} ${answer.text.slice(0, 300)}`;
  if (answer.status >= 500) throw new Error(`server error: ${where}`);
  if (answer.status < 400) return null;
  if (!/^application\/problem\+json\b/.test(header(answer, 'content-type'))) {
    throw new Error(`refusal without application/problem+json (content-type "${header(answer, 'content-type')}"): ${where}`);
  }
  if (LEAK.test(answer.text)) throw new Error(`refusal leaks server internals: ${where}`);
  if (options.head) return null;
  let problem: { type?: unknown; status?: unknown; title?: unknown; detail?: unknown };
  try {
    problem = JSON.parse(answer.text) as typeof problem;
  } catch {
    throw new Error(`problem body is not JSON: ${where}`);
  }
  const type = problem.type as ProblemType;
  if (!(type in PUBLISHED_PROBLEMS)) throw new Error(`unpublished problem type "${String(problem.type)}": ${where}`);
  if (PUBLISHED_PROBLEMS[type] !== answer.status || problem.status !== answer.status) {
    throw new Error(`problem "${type}" answered with status ${answer.status} (document says ${String(problem.status)}, published ${PUBLISHED_PROBLEMS[type]}): ${where}`);
  }
  if (typeof problem.title !== 'string' || typeof problem.detail !== 'string') throw new Error(`problem without title or detail: ${where}`);
  return problem as { type: ProblemType };
}

/** `checkAnswer`, and the refusal's type is one of `types`. */
export function expectRefusal(answer: AnswerLike, request: string, types: readonly ProblemType[]): ProblemType {
  const problem = checkAnswer(answer, request);
  if (!problem) throw new Error(`expected a refusal (${types.join(' | ')}), got ${answer.status}: ${request} → ${answer.text.slice(0, 300)}`);
  if (!types.includes(problem.type)) {
    throw new Error(`expected ${types.join(' | ')}, got "${problem.type}": ${request} → ${answer.text.slice(0, 300)}`);
  }
  return problem.type;
}

/** Only that the answer is not a server error: for protocols that are not this API's (Socket.IO's own). */
export function expectNoServerError(answer: AnswerLike, request: string): void {
  if (answer.status >= 500) throw new Error(`server error: ${request} → ${answer.status} ${answer.text.slice(0, 300)}`);
}
