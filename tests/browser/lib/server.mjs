// Starts the real handover-server on a free loopback port with a temporary config and
// database, the repository's web/ pages, trigger rules and demo bot, and short offer timeouts.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const KEYS = {
  widget: 'browser-test-widget-key',
  admin: 'browser-test-admin-key',
};

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function serverYaml(repo, dir) {
  return `listen:
  address: 127.0.0.1
  port: 0
store:
  path: ${join(dir, 'handover.db')}
  synchronous: normal
auth:
  api_keys:
    - name: test-widget
      sha256: ${sha256(KEYS.widget)}
      scopes: [widget]
    - name: test-admin
      sha256: ${sha256(KEYS.admin)}
      scopes: [admin, read]
log:
  level: ${process.env.E2E_LOG_LEVEL || 'info'}
  access_log: false
web:
  root: ${join(repo, 'web')}
connectors:
  web:
    type: builtin
    file: ${join(repo, 'config', 'demo-bot.yaml')}
`;
}

// The shipped routing with every offer timeout set to `offerTimeoutS` and live positions.
function routingYaml(repo, offerTimeoutS) {
  return readFileSync(join(repo, 'config', 'routing.yaml'), 'utf8')
    .replace(/offer_timeout_s: \d+/g, `offer_timeout_s: ${offerTimeoutS}`)
    .replace(/position_update_interval_ms: \d+/, 'position_update_interval_ms: 0');
}

export class Server {
  constructor({ repo, binary, offerTimeoutS = 5 }) {
    this.repo = repo;
    this.binary = binary;
    this.dir = mkdtempSync(join(tmpdir(), 'handover-browser-'));
    this.log = '';
    writeFileSync(join(this.dir, 'server.yaml'), serverYaml(repo, this.dir));
    writeFileSync(join(this.dir, 'routing.yaml'), routingYaml(repo, offerTimeoutS));
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  // Starts the server (again, after stop(): the same database) and waits until it listens.
  async start() {
    if (!existsSync(this.binary)) throw new Error(`server binary not found: ${this.binary}`);
    const portFile = join(this.dir, 'port');
    rmSync(portFile, { force: true });
    const args = ['--config', join(this.dir, 'server.yaml'),
                  '--routing', join(this.dir, 'routing.yaml'),
                  '--rules', join(this.repo, 'config', 'triggers.yaml'),
                  '--port-file', portFile];
    if (this.port) args.push('--listen', `127.0.0.1:${this.port}`);
    // HANDOVER_* variables of the caller would override the test's config.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HANDOVER_')));
    this.child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const append = (chunk) => { this.log += chunk.toString(); };
    this.child.stdout.on('data', append);
    this.child.stderr.on('data', append);
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.exited = exited;
    for (let i = 0; i < 200; i++) {
      if (existsSync(portFile)) {
        this.port = Number(readFileSync(portFile, 'utf8').trim());
        return;
      }
      if (this.child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`the server did not start:\n${this.log}`);
  }

  // SIGTERM, then SIGKILL after a few seconds.
  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  // A copy of the database files; take it while the server is stopped.
  backup() {
    const copy = {};
    for (const suffix of ['', '-wal', '-shm']) {
      const file = join(this.dir, `handover.db${suffix}`);
      if (existsSync(file)) copy[suffix] = readFileSync(file);
    }
    return copy;
  }

  // Puts a backup() in place of the database; only while the server is stopped.
  restore(copy) {
    for (const suffix of ['', '-wal', '-shm']) {
      const file = join(this.dir, `handover.db${suffix}`);
      rmSync(file, { force: true });
      if (copy[suffix]) writeFileSync(file, copy[suffix]);
    }
  }

  async cleanup() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async createAgent(name) {
    const response = await fetch(`${this.url}/v1/admin/agents`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEYS.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, display_name: name, skills: ['deescalation', 'orders'],
                             languages: ['de', 'en'], capacity: 2 }),
    });
    const body = await response.json();
    if (response.status !== 201) throw new Error(`creating agent ${name}: ${JSON.stringify(body)}`);
    return body;
  }

  // The data of the first event of `type` in a conversation's stream, as integrations see it
  // (with the admin key, which has scope read); waits for it up to `timeoutMs`.
  async firstEvent(conversationId, type, timeoutMs = 5000) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const response = await fetch(`${this.url}/v1/conversations/${conversationId}/events`, {
        headers: { Authorization: `Bearer ${KEYS.admin}` }, signal: abort.signal,
      });
      const decoder = new TextDecoder();
      let text = '';
      for await (const chunk of response.body) {
        text += decoder.decode(chunk, { stream: true });
        for (const block of text.split('\n\n')) {
          const data = block.split('\n').find((line) => line.startsWith('data:'));
          const event = data ? JSON.parse(data.slice(5)) : null;
          if (event?.type === type) return event.data;
        }
      }
      throw new Error(`the stream of ${conversationId} ended without ${type}`);
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  async adminGet(path) {
    const response = await fetch(`${this.url}${path}`, {
      headers: { Authorization: `Bearer ${KEYS.admin}` },
    });
    return response.json();
  }
}
