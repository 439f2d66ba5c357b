// The agent WebSocket (docs/agent-protocol.md) with automatic reconnects. The first
// connection of a page asks for the state (open offers, assigned conversations) instead of
// the agent's whole history; after a drop it reconnects with growing pauses and sends
// hello {resume_after} with the last seq it handled, so the server replays every missed event
// exactly once, or sends the state when it cannot continue from that seq (a reset database).

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;
const PING_MS = 10000;

export class AgentSocket {
  // handlers: onFrame(frame), onState(state, detail) with state one of connecting,
  // connected ({resumed, replayed}), lost ({welcomed}), rejected. A `state` frame reaches
  // onFrame before the events after it: the caller rebuilds from it. The caller may stop() at
  // any time, for example when a lost connection turns out to be a refused token.
  constructor(token, handlers, seqStore) {
    this.token = token;
    this.handlers = handlers;
    this.seqStore = seqStore;  // {get(): number, set(n)}
    this.lastSeq = seqStore.get();
    this.delay = MIN_DELAY_MS;
    this.refs = 0;
    this.pending = new Map();  // ref -> {resolve, reject}
    this.stopped = false;
    this.replayed = 0;
    this.everConnected = false;
    this.hasState = false;  // the caller holds what the events up to lastSeq built
  }

  url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/v1/agents/ws?access_token=${encodeURIComponent(this.token)}`;
  }

  start() {
    this.stopped = false;
    this.handlers.onState('connecting');
    const ws = new WebSocket(this.url());
    this.ws = ws;
    let welcomed = false;
    ws.addEventListener('open', () => {
      this.replayed = 0;
      const hello = { type: 'hello', state: true, ref: 'hello' };
      if (this.hasState) hello.resume_after = this.lastSeq;
      ws.send(JSON.stringify(hello));
    });
    ws.addEventListener('message', (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame.type === 'welcome') welcomed = true;
      this.dispatch(frame);
    });
    ws.addEventListener('close', (e) => {
      clearInterval(this.pinger);
      for (const { reject } of this.pending.values()) reject(new Error('connection closed'));
      this.pending.clear();
      if (this.stopped) return;
      // 1008: the token was rotated or the agent disabled while connected.
      if (e.code === 1008) {
        this.handlers.onState('rejected');
        return;
      }
      this.handlers.onState('lost', { welcomed });
      setTimeout(() => this.start(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    });
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000);
  }

  dispatch(frame) {
    if (frame.type === 'ack' && frame.ref === 'hello') {
      const wasConnected = this.everConnected;
      this.everConnected = true;
      this.delay = MIN_DELAY_MS;
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: 'ping' }).catch(() => {}), PING_MS);
      this.handlers.onState('connected', { resumed: wasConnected, replayed: this.replayed });
      return;
    }
    if (frame.type === 'state') {
      // Everything up to last_seq is in the state, also when this page had seen more.
      this.hasState = true;
      this.lastSeq = frame.last_seq;
      this.seqStore.set(frame.last_seq);
    }
    if (typeof frame.seq === 'number' && frame.type !== 'ack') {
      if (frame.seq <= this.lastSeq) return;  // seen before the drop
      this.lastSeq = frame.seq;
      this.seqStore.set(frame.seq);
      this.replayed += 1;
    }
    if ((frame.type === 'ack' || frame.type === 'error' || frame.type === 'snapshot') &&
        this.pending.has(frame.ref)) {
      const { resolve, reject } = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      if (frame.type === 'error') {
        const error = new Error(frame.message);
        error.code = frame.code;
        reject(error);
      } else {
        resolve(frame);
      }
      if (frame.type !== 'snapshot') return;
    }
    this.handlers.onFrame(frame);
  }

  // Sends a client frame; resolves with its ack (or snapshot), rejects with the error frame.
  send(frame) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      const ref = `r${++this.refs}`;
      this.pending.set(ref, { resolve, reject });
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }
}
