import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, problem, type ErrorCode } from '../errors.js';

/**
 * Errors Node's HTTP parser raises before any route runs (REQUEST_TIMEOUT,
 * a request line and headers over the size limit, bytes that are not
 * HTTP/1.1): answered as problem JSON too, written on the socket because
 * there is no request object to reply through.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, detail]: [ErrorCode, string] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ['request_timeout', 'the request (headers and body) did not arrive within REQUEST_TIMEOUT']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? ['headers_too_large', 'the request line and headers are larger than the server accepts']
        : ['bad_request', 'the request is not valid HTTP/1.1'];
  const status = ERRORS[code].status;
  const body = JSON.stringify(problem(code, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
