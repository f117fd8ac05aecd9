// The conformance suite run against the smallest possible plain-HTTP sink built on the kit
// (HttpClient + createDeliverySink, the recipe in DESIGN.md) and a tiny NDJSON ingest server:
// checks the suite itself, and the kit end to end over real sockets, without any emulator package.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { LogEvent } from '../src/event/event.ts';
import { HttpClient, createDeliverySink, type SinkProtocol } from '../src/sink-kit/index.ts';
import { runSinkConformance, type ConformanceFault } from '../src/testing/conformance.ts';

interface Req {
  readonly body: string;
}

async function startIngest() {
  const lines: string[] = [];
  const times: number[] = [];
  const sizes: number[] = [];
  const faults: ConformanceFault[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/ingest') return void res.writeHead(404).end();
      times.push(Date.now());
      sizes.push(Buffer.concat(chunks).length);
      const f = faults[0];
      if (f && f.count > 0) {
        faults[0] = { ...f, count: f.count - 1 };
        if (faults[0].count === 0) faults.shift();
      }
      if (f?.kind === 'reset' && f.when === 'before') return void res.destroy();
      if (f?.kind === 'status') {
        const h: Record<string, string> = f.retryAfterSeconds !== undefined ? { 'retry-after': String(f.retryAfterSeconds) } : {};
        return void res.writeHead(f.status, h).end('injected');
      }
      const raw = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      for (const l of text.split('\n')) if (l !== '') lines.push(l);
      if (f?.kind === 'reset') return void res.destroy();
      res.writeHead(200).end('{}');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lines,
    times,
    sizes,
    faults,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

runSinkConformance({
  name: 'sink_kit_ndjson',
  setup: async () => {
    const srv = await startIngest();
    return {
      build: (delivery, ctx) => {
        const http = new HttpClient({ endpoint: srv.url, concurrency: delivery.request?.concurrency });
        const protocol: SinkProtocol<Req> = {
          encode: (events: readonly LogEvent[]) => ({ body: events.map((e) => e.toJson()).join('\n') + '\n' }),
          send: (_req, payload, signal) => http.send('/ingest', payload, signal, { headers: { 'content-type': 'application/x-ndjson' } }),
          close: () => http.close(),
        };
        return createDeliverySink(protocol, delivery, ctx);
      },
      // Not idempotent: a replay after a lost answer would store twice; the suite only injects resets before processing.
      stored: () => srv.lines.length,
      fault: (f) => srv.faults.push(f),
      ingestTimes: () => srv.times,
      ingestBytes: () => srv.sizes,
      down: () => srv.close(),
      close: () => srv.close(),
    };
  },
});
