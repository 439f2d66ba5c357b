// Fan-out of 1 KB events to many WebSocket clients, for bench/run.sh.
//
//   node fanout.mjs serve PORT_FILE
//     The reference: a Node `ws` server on 127.0.0.1 that, on a text message
//     {"broadcast":N,"bytes":B}, serialises N events of about B bytes once each and sends each
//     to every open client, as bench/tools/ws_fanout_server does on the product's network layer.
//   node fanout.mjs run URL CLIENTS ROUNDS EVENTS BYTES
//     Connects CLIENTS clients to URL (loopback only), then ROUNDS times asks for EVENTS events
//     and waits until every client has all of them. Prints one JSON line: messages delivered
//     per second over all rounds. Each round is bounded by 60 seconds.
import fs from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';

function event(seq, bytes) {
  const head = `{"type":"notice","seq":${seq},"text":"`;
  return head + 'x'.repeat(Math.max(0, bytes - head.length - 2)) + '"}';
}

function serve(portFile) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  server.on('listening', () => {
    fs.writeFileSync(`${portFile}.tmp`, `${server.address().port}\n`);
    fs.renameSync(`${portFile}.tmp`, portFile);
  });
  server.on('connection', (socket) => {
    socket.on('message', (raw) => {
      let command;
      try { command = JSON.parse(raw); } catch { return; }
      const count = Number(command.broadcast ?? 0);
      const bytes = Number(command.bytes ?? 1024);
      for (let i = 0; i < count; i += 1) {
        const frame = event(i, bytes);
        for (const client of server.clients) {
          if (client.readyState === WebSocket.OPEN) client.send(frame);
        }
      }
    });
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function run(url, clients, rounds, events, bytes) {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
    console.error('refusing a non-loopback target');
    process.exit(2);
  }
  const sockets = [];
  const received = new Array(clients).fill(0);
  let target = 0;
  let waiting = 0;
  let roundDone = () => {};
  for (let i = 0; i < clients; i += 1) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.on('message', () => {
      received[i] += 1;
      if (received[i] === target && --waiting === 0) roundDone();
    });
    sockets.push(ws);
  }
  let delivered = 0;
  const started = performance.now();
  for (let r = 0; r < rounds; r += 1) {
    target += events;
    waiting = clients;
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`round ${r} timed out`)), 60000);
      roundDone = () => { clearTimeout(timer); resolve(); };
    });
    sockets[0].send(JSON.stringify({ broadcast: events, bytes }));
    await done;
    delivered += events * clients;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({
    clients, rounds, events, bytes, messages: delivered, seconds,
    messages_per_s: delivered / seconds, megabytes_per_s: (delivered * bytes) / seconds / 1e6,
  }));
  for (const ws of sockets) ws.terminate();
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve') serve(args[0]);
else if (mode === 'run') {
  await run(args[0], Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]));
} else {
  console.error('usage: fanout.mjs serve PORT_FILE | run URL CLIENTS ROUNDS EVENTS BYTES');
  process.exit(2);
}
