// A tiny static file server for dist/: loopback only, GET/HEAD only, never outside its root.
//
//   node tests/e2e/server.mjs [ROOT=dist] [PORT=8080]     (used by scripts/serve.sh)
//
// Tests and benchmarks import `serve(root)` to get an ephemeral port; files that are not in
// dist/ (fixtures, broken models) they answer in the browser with Playwright's page.route.

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm', // required by WebAssembly.instantiateStreaming
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ts': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

/** Starts the server (port 0: any free one). Resolves to { url, close }. */
export function serve(root, { port = 0, quiet = true } = {}) {
  const top = resolve(root);
  const server = createServer(async (req, res) => {
    const log = (status) => { if (!quiet) console.log(`${status} ${req.method} ${req.url}`); };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return log(405);
    }
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    } catch {
      res.writeHead(400).end('bad URL');
      return log(400);
    }
    let file = join(top, path);
    if (file !== top && !file.startsWith(top + sep)) {
      res.writeHead(403).end('forbidden');
      return log(403);
    }
    try {
      let info = await stat(file);
      if (info.isDirectory()) {
        file = join(file, 'index.html');
        info = await stat(file);
      }
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Length': info.size,
        'Cache-Control': 'no-cache',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
      log(200);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
      log(404);
    }
  });
  // Keep-alive sockets would hold close() open for minutes.
  server.keepAliveTimeout = 1000;
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolvePromise({
        url: `http://127.0.0.1:${actual}/`,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? 'dist';
  const port = Number(process.argv[3] ?? process.env.PORT ?? 8080);
  const { url } = await serve(root, { port, quiet: false });
  console.log(`serving ${resolve(root)} at ${url} (Ctrl-C to stop)`);
}
