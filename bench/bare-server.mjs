// The ceiling: node:http answering the webhook POST (body read, small JSON back)
// without parsing or storing anything. Plain JavaScript so no loader runs in it.
import http from 'node:http';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    const body = JSON.stringify({ status: 'received', bytes: size });
    res.writeHead(req.url === '/readyz' || req.method === 'POST' ? 200 : 404, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(port, host);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
