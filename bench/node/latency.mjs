// Escalation-to-offer latency: connects AGENTS agent consoles over WebSocket, then posts
// turns that escalate ("I want to talk to a human agent") and measures, per conversation,
// the time from sending the POST to the first agent's receipt of the offer. Every offer is
// accepted and resolved so capacity frees up. Loopback only; bounded by ROUNDS.
//
// Usage: node latency.mjs http://127.0.0.1:PORT ADMIN_KEY BOT_KEY [AGENTS] [ROUNDS]
import http from 'node:http';
import { WebSocket } from 'ws';

const [base, adminKey, botKey] = process.argv.slice(2, 5);
const agents = Number(process.argv[5] ?? 100);
const rounds = Number(process.argv[6] ?? 300);
const url = new URL(base);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
  console.error('refusing a non-loopback target');
  process.exit(2);
}
const agentHttp = new http.Agent({ keepAlive: true, maxSockets: 8 });

function request(method, path, key, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: url.hostname, port: url.port, method, path, agent: agentHttp,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
      },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    if (data) req.write(data);
    req.end();
  });
}

const waiting = new Map();  // conversation id -> {start, resolve}
let errors = 0;

async function connectAgent(i) {
  const id = `bench-agent-${i}-${process.pid}`;
  const created = await request('POST', '/v1/admin/agents', adminKey, {
    id, name: id, display_name: `Agent ${i}`, skills: [], languages: ['en', 'de'], capacity: 50,
  });
  if (created.status !== 201) throw new Error(`create agent: ${created.status} ${JSON.stringify(created.body)}`);
  const ws = new WebSocket(`ws://${url.host}/v1/agents/ws`, {
    headers: { Authorization: `Bearer ${created.body.token}` },
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send(JSON.stringify({ type: 'hello' }));
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw);
    if (frame.type === 'offer') {
      const w = waiting.get(frame.conversation_id);
      if (w) {
        waiting.delete(frame.conversation_id);
        w.resolve(performance.now() - w.start);
      }
      ws.send(JSON.stringify({ type: 'accept', conversation_id: frame.conversation_id, offer_id: frame.offer_id }));
    } else if (frame.type === 'assigned') {
      ws.send(JSON.stringify({
        type: 'resolve', conversation_id: frame.conversation_id,
        feedback: { justified: 'yes', reason: 'bench' },
      }));
    } else if (frame.type === 'error') {
      errors += 1;
    }
  });
  return ws;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sockets = [];
for (let i = 0; i < agents; i += 1) sockets.push(await connectAgent(i));
const latencies = [];
for (let r = 0; r < rounds; r += 1) {
  const conv = await request('POST', '/v1/conversations', botKey, { language: 'en' });
  const id = conv.body.id;
  const received = new Promise((resolve) => waiting.set(id, { start: performance.now(), resolve }));
  const posted = request('POST', `/v1/conversations/${id}/turns`, botKey,
    { role: 'user', text: 'I want to talk to a human agent please' });
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 5000));
  const [ms, answer] = await Promise.all([Promise.race([received, timeout]), posted]);
  if (ms === null || answer.status !== 201 || answer.body.state !== 'queued') errors += 1;
  else latencies.push(ms);
}
latencies.sort((a, b) => a - b);
const result = {
  agents, rounds, offers: latencies.length, errors,
  p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99), max_ms: latencies.at(-1),
};
console.log(JSON.stringify(result));
for (const ws of sockets) ws.close();
agentHttp.destroy();
