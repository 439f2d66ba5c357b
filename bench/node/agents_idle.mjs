// Memory of idle agent connections, for bench/run.sh: creates COUNT agents over the admin
// API, reads the server's RSS, opens one agent WebSocket per agent (each sends `hello`),
// waits until every `welcome` arrived and the server settled, and reads the RSS again.
// Usage: node agents_idle.mjs BASE_URL ADMIN_KEY COUNT SERVER_PID   -> one JSON line
import fs from 'node:fs';
import http from 'node:http';
import { WebSocket } from 'ws';

const [base, adminKey, countText, pid] = process.argv.slice(2);
const count = Number(countText);
const url = new URL(base);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
  console.error('refusing a non-loopback target');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function rssKb() {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

function createAgent(i) {
  const id = `idle-${i}`;
  const body = JSON.stringify({ id, name: id, display_name: `Idle ${i}`, skills: [], languages: ['en'], capacity: 1 });
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, method: 'POST', path: '/v1/admin/agents', agent,
      headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => (res.statusCode === 201 ? resolve(JSON.parse(text).token) : reject(new Error(`create agent: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

async function inBatches(n, size, make) {
  const out = [];
  for (let i = 0; i < n; i += size) {
    out.push(...await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, k) => make(i + k))));
  }
  return out;
}

function connect(token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${url.host}/v1/agents/ws`, { headers: { Authorization: `Bearer ${token}` } });
    const timer = setTimeout(() => reject(new Error('no welcome within 30 s')), 30000);
    ws.once('error', reject);
    ws.on('message', (raw) => {
      if (JSON.parse(raw).type === 'welcome') { clearTimeout(timer); resolve(ws); }
    });
    ws.once('open', () => ws.send('{"type":"hello"}'));
  });
}

const tokens = await inBatches(count, 64, createAgent);
agent.destroy();
await new Promise((r) => setTimeout(r, 1000));
const before = rssKb();
const sockets = await inBatches(count, 200, (i) => connect(tokens[i]));
await new Promise((r) => setTimeout(r, 2000));
const after = rssKb();
console.log(JSON.stringify({ count, connected: sockets.length, rss_before_kb: before, rss_after_kb: after }));
for (const ws of sockets) ws.terminate();
