#!/usr/bin/env node
'use strict';
// Minimal SMSC simulator on the npm `smpp` package (node-smpp).
// Comparison baseline only (see README.md / docs/benchmarks.md).
//
//   node smsc.js [--port P] [--host 127.0.0.1] [--dlr-delay-ms D]
//   env: SMSC_PORT, SMSC_HOST, SMSC_DLR_DELAY_MS
//
// --port 0 picks a free port. Once listening, prints one line to stdout:
//   LISTENING <host> <port>

const smpp = require('smpp');

// Write coalescing (default on; NPM_SMPP_CORK=0 disables): cork the socket
// while the package parses one readable burst and uncork on the next tick, so
// the responses/receipts written from its event handlers leave in one writev
// instead of one write(2) per PDU. Only the public net.Socket API is used; PDU
// encoding/decoding is entirely the package's.
const CORK = process.env.NPM_SMPP_CORK !== '0';
function coalesceWrites(sock) {
  if (!CORK) return;
  sock.prependListener('readable', () => {
    sock.cork();
    process.nextTick(() => sock.uncork());
  });
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = 'true';
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const host = args.host || process.env.SMSC_HOST || '127.0.0.1';
const port = Number(args.port ?? process.env.SMSC_PORT ?? 2775);
const dlrDelayMs = Number(args['dlr-delay-ms'] ?? process.env.SMSC_DLR_DELAY_MS ?? 0);

if (!isLoopback(host)) {
  console.error(`smsc.js: refusing non-loopback host ${host}`);
  process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`smsc.js: bad port ${args.port}`);
  process.exit(2);
}
if (!(dlrDelayMs >= 0)) {
  console.error(`smsc.js: bad --dlr-delay-ms ${args['dlr-delay-ms']}`);
  process.exit(2);
}

function isLoopback(h) {
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

// Global hex message-id counter, unique across all sessions.
let nextId = 1;

// YYMMDDhhmm, cached per minute (UTC).
let cachedMinute = -1;
let cachedStamp = '';
function stamp(ms) {
  const minute = Math.floor(ms / 60000);
  if (minute !== cachedMinute) {
    const d = new Date(minute * 60000);
    const p = (n) => (n < 10 ? '0' + n : '' + n);
    cachedStamp = p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
      p(d.getUTCHours()) + p(d.getUTCMinutes());
    cachedMinute = minute;
  }
  return cachedStamp;
}

// Sessions bound as receiver/transceiver, by system_id, for routing receipts of
// transmitter binds. Transceiver submits get their receipts on the same session.
const receivers = new Map(); // system_id -> Session[]
let rr = 0;

function addReceiver(systemId, session) {
  let list = receivers.get(systemId);
  if (!list) receivers.set(systemId, (list = []));
  list.push(session);
}
function removeReceiver(systemId, session) {
  const list = receivers.get(systemId);
  if (!list) return;
  const i = list.indexOf(session);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) receivers.delete(systemId);
}

function messageText(sm) {
  if (sm == null) return '';
  if (typeof sm === 'string') return sm;
  if (Buffer.isBuffer(sm)) return sm.toString('latin1');
  const m = sm.message;
  if (typeof m === 'string') return m;
  if (Buffer.isBuffer(m)) return m.toString('latin1');
  return '';
}

function sendReceipt(session, systemId, submit, messageId, submitMs) {
  let target = session;
  if (session.bindMode === 'transmitter') {
    const list = receivers.get(systemId);
    if (!list || list.length === 0) return; // nowhere to deliver
    target = list[rr++ % list.length];
  }
  if (target.closed) return;
  const text = messageText(submit.short_message).slice(0, 20);
  const ts = stamp(submitMs);
  const done = stamp(Date.now());
  target.deliver_sm({
    source_addr_ton: submit.dest_addr_ton,
    source_addr_npi: submit.dest_addr_npi,
    source_addr: submit.destination_addr,
    dest_addr_ton: submit.source_addr_ton,
    dest_addr_npi: submit.source_addr_npi,
    destination_addr: submit.source_addr,
    esm_class: 0x04,
    data_coding: 0,
    short_message: `id:${messageId} sub:001 dlvrd:001 submit date:${ts} done date:${done} stat:DELIVRD err:000 text:${text}`,
    receipted_message_id: messageId,
    message_state: 2,
  });
  // deliver_sm_resp is consumed and ignored.
}

const server = smpp.createServer((session) => {
  coalesceWrites(session.socket);
  session.bindMode = null; // 'transmitter' | 'receiver' | 'transceiver'
  session.systemId = null;
  session.closed = false;

  const onBind = (mode) => (pdu) => {
    if (session.bindMode) {
      session.send(pdu.response({ command_status: smpp.ESME_RALYBND }));
      return;
    }
    session.bindMode = mode;
    session.systemId = pdu.system_id || '';
    if (mode !== 'transmitter') addReceiver(session.systemId, session);
    session.send(pdu.response({ system_id: 'TERNSIM' }));
  };
  session.on('bind_transceiver', onBind('transceiver'));
  session.on('bind_transmitter', onBind('transmitter'));
  session.on('bind_receiver', onBind('receiver'));

  session.on('submit_sm', (pdu) => {
    if (session.bindMode !== 'transmitter' && session.bindMode !== 'transceiver') {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const messageId = (nextId++).toString(16);
    session.send(pdu.response({ message_id: messageId }));
    if (pdu.registered_delivery & 1) {
      const now = Date.now();
      if (dlrDelayMs > 0) {
        setTimeout(sendReceipt, dlrDelayMs, session, session.systemId, pdu, messageId, now);
      } else {
        sendReceipt(session, session.systemId, pdu, messageId, now);
      }
    }
  });

  session.on('enquire_link', (pdu) => session.send(pdu.response()));

  session.on('unbind', (pdu) => {
    session.send(pdu.response(), () => session.close());
  });

  session.on('unknown', (pdu) => session.send(pdu.response())); // generic_nack

  const cleanup = () => {
    if (session.closed) return;
    session.closed = true;
    if (session.bindMode && session.bindMode !== 'transmitter') removeReceiver(session.systemId, session);
  };
  session.on('close', cleanup);
  session.on('error', () => { cleanup(); session.destroy(); });
});

server.on('error', (e) => {
  console.error(`smsc.js: ${e.message}`);
  process.exit(1);
});

server.listen(port, host, () => {
  const addr = server.address();
  process.stdout.write(`LISTENING ${addr.address} ${addr.port}\n`);
});

// Benchmark helper: on a signal, just exit (open sessions are dropped).
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
