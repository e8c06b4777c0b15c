/**
 * One registry of the errors the API answers with. Each code has a stable
 * `type` URI (relative, under /problems/), a title and an HTTP status; every
 * error body is RFC 9457 problem JSON built from it.
 */
export const ERRORS = {
  bad_request: { status: 400, title: 'Bad request' },
  invalid_json: { status: 400, title: 'Body is not valid JSON' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  invalid_signature: { status: 401, title: 'Webhook signature not valid' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'Request timeout' },
  conflict: { status: 409, title: 'Conflict' },
  source_not_configured: { status: 422, title: 'Source not configured' },
  payload_too_large: { status: 413, title: 'Body too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  validation: { status: 422, title: 'Validation failed' },
  rate_limited: { status: 429, title: 'Too many requests' },
  headers_too_large: { status: 431, title: 'Request headers too large' },
  internal: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

/** An error the HTTP layer turns into problem JSON with the code's status. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    detail: string,
    readonly extra: { errors?: FieldError[]; [k: string]: unknown } = {},
  ) {
    super(detail);
    this.name = 'ApiError';
    this.status = ERRORS[code].status;
  }
}

export function problem(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): ProblemBody {
  const e = ERRORS[code];
  const base = { type: `/problems/${code.replace(/_/g, '-')}`, title: e.title, status: e.status, detail };
  // Extras add members; they never replace the four the RFC defines.
  return { ...base, ...extra, ...base };
}
