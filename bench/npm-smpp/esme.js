#!/usr/bin/env node
'use strict';
// ESME load generator on the npm `smpp` package (node-smpp).
// Comparison baseline only (see README.md / docs/benchmarks.md).
//
//   node esme.js --port P [--host 127.0.0.1] [--binds 1] [--window 64]
//                [--count 50000 | --duration S] [--dlr-timeout 10]
//                [--system-id bench] [--password bench] [--text "..."]
//
// Opens N transceiver binds, keeps up to W submit_sm outstanding per bind,
// sends C messages in total (or for S seconds) with registered_delivery=1,
// matches delivery receipts to submit_sm_resp message ids, and prints ONE JSON
// line. Exits 0 when every accepted message got its receipt and no submit
// failed; 1 when receipts were lost or submits failed; 2 on usage/bind errors.

const { performance } = require('perf_hooks');
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

function die(msg) {
  console.error(`esme.js: ${msg}`);
  process.exit(2);
}

function isLoopback(h) {
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  die(e.message);
}
const KNOWN = ['host', 'port', 'binds', 'window', 'count', 'duration', 'dlr-timeout',
  'system-id', 'password', 'text', 'help'];
for (const k of Object.keys(args)) if (!KNOWN.includes(k)) die(`unknown option --${k}`);
if (args.help) {
  console.error('usage: esme.js --port P [--host 127.0.0.1] [--binds N] [--window W] ' +
    '[--count C | --duration S] [--dlr-timeout S] [--system-id ID] [--password PW] [--text T]');
  process.exit(0);
}

const host = args.host || process.env.SMSC_HOST || '127.0.0.1';
const port = Number(args.port ?? process.env.SMSC_PORT);
const binds = Number(args.binds ?? 1);
const windowSize = Number(args.window ?? 64);
const durationS = args.duration !== undefined ? Number(args.duration) : null;
const count = args.count !== undefined ? Number(args.count) : (durationS !== null ? Infinity : 50000);
const dlrTimeoutMs = Number(args['dlr-timeout'] ?? 10) * 1000;
const systemId = args['system-id'] || 'bench';
const password = args.password || 'bench';
const text = args.text || 'Hello from the Tern SMPP baseline';

if (!isLoopback(host)) die(`refusing non-loopback host ${host}`);
if (!Number.isInteger(port) || port <= 0 || port > 65535) die('need --port (or SMSC_PORT)');
if (!Number.isInteger(binds) || binds < 1) die('bad --binds');
if (!Number.isInteger(windowSize) || windowSize < 1) die('bad --window');
if (!(count > 0)) die('bad --count');
if (durationS !== null && !(durationS > 0)) die('bad --duration');
if (!(dlrTimeoutMs > 0)) die('bad --dlr-timeout');

// short_message is GSM 03.38 (data_coding 0). Encoded once with the package's
// own GSM coder; the package passes Buffers through unchanged.
const shortMessage = smpp.encodings.ASCII.encode(text);
if (shortMessage.length > 160) die('--text longer than 160 GSM septets');

// ---- state -----------------------------------------------------------------
let issued = 0;           // submit_sm handed to the package
let resps = 0;            // submit_sm_resp received
let ok = 0;
let errors = 0;
let dlrReceived = 0;      // deliver_sm with a receipt esm_class
let dlrMatched = 0;
let totalInflight = 0;
let tStart = 0;
let deadline = Infinity;
let lastResp = 0;
let lastDlr = 0;
let lastActivity = 0;
let finished = false;

const submitLat = [];      // ms
const dlrLat = [];         // ms
const pending = new Map(); // message_id -> submit time, awaiting receipt
const early = new Map();   // message_id -> receipt time, receipt before resp

const sessions = [];

function canIssue() {
  return issued < count && (deadline === Infinity || performance.now() < deadline);
}

function pump(s) {
  while (s.inflight < windowSize && s.up && canIssue()) {
    issued++;
    s.inflight++;
    totalInflight++;
    const t0 = performance.now();
    const sent = s.session.submit_sm({
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'TernBench',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '447700900123',
      registered_delivery: 1,
      data_coding: 0,
      short_message: shortMessage,
    }, (pdu) => onResp(s, pdu, t0));
    if (!sent) { // socket not writable
      s.inflight--;
      totalInflight--;
      errors++;
      s.up = false;
      checkDone();
      return;
    }
  }
}

function onResp(s, pdu, t0) {
  const now = performance.now();
  s.inflight--;
  totalInflight--;
  resps++;
  lastResp = now;
  lastActivity = now;
  if (pdu.command_status === 0) {
    ok++;
    submitLat.push(now - t0);
    const id = pdu.message_id;
    const tr = early.get(id);
    if (tr !== undefined) {
      early.delete(id);
      dlrMatched++;
      dlrLat.push(tr - t0);
      if (tr > lastDlr) lastDlr = tr;
    } else {
      pending.set(id, t0);
    }
  } else {
    errors++;
  }
  if (!finished) {
    pump(s);
    checkDone();
  }
}

const ID_RE = /(?:^|\s)id:(\S+)/;

function onDeliver(s, pdu) {
  s.session.send(pdu.response());
  if ((pdu.esm_class & 0x3c) !== 0x04) return; // not an SMSC delivery receipt
  const now = performance.now();
  dlrReceived++;
  lastActivity = now;
  let id = pdu.receipted_message_id;
  if (!id) {
    const sm = pdu.short_message;
    const body = sm && (typeof sm.message === 'string' ? sm.message : String(sm.message || sm));
    const m = body && ID_RE.exec(body);
    if (m) id = m[1];
  }
  if (!id) return;
  const t0 = pending.get(id);
  if (t0 !== undefined) {
    pending.delete(id);
    dlrMatched++;
    dlrLat.push(now - t0);
    lastDlr = now;
    checkDone();
  } else {
    early.set(id, now);
  }
}

function checkDone() {
  if (!finished && totalInflight === 0 && pending.size === 0 && !canIssue()) finish(false);
}

function pct(arr, p) {
  if (arr.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * arr.length));
  return Math.round(arr[rank - 1] * 1000) / 1000;
}
function summary(arr) {
  const a = Float64Array.from(arr).sort();
  return { p50: pct(a, 50), p99: pct(a, 99) };
}
const r3 = (x) => Math.round(x * 1000) / 1000;
const r1 = (x) => Math.round(x * 10) / 10;

let watchdog = null;

function finish(timedOut) {
  if (finished) return;
  finished = true;
  if (watchdog) clearInterval(watchdog);
  // Submits never answered count as errors.
  const unanswered = totalInflight;
  errors += unanswered;
  const elapsed = ((lastResp || performance.now()) - tStart) / 1000;
  const dlrElapsed = ((lastDlr || performance.now()) - tStart) / 1000;
  const lost = ok - dlrMatched;
  const out = {
    impl: 'npm-smpp',
    binds,
    window: windowSize,
    sent: issued,
    ok,
    errors,
    elapsed_s: r3(elapsed),
    submit_per_s: elapsed > 0 ? r1(ok / elapsed) : 0,
    dlr_received: dlrReceived,
    dlr_matched: dlrMatched,
    dlr_elapsed_s: r3(dlrElapsed),
    dlr_per_s: dlrElapsed > 0 ? r1(dlrMatched / dlrElapsed) : 0,
    submit_latency_ms: summary(submitLat),
    dlr_latency_ms: summary(dlrLat),
    lost,
    timed_out: timedOut,
    cork: CORK,
    smpp_version: require('smpp/package.json').version,
    node: process.version,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  const code = lost > 0 || errors > 0 ? 1 : 0;

  // Polite unbind, bounded to 1 s.
  let open = 0;
  const exit = () => process.exit(code);
  const timer = setTimeout(exit, 1000);
  for (const s of sessions) {
    if (!s.up) { s.session.destroy(); continue; }
    open++;
    s.session.unbind(() => {
      s.session.destroy();
      if (--open === 0) { clearTimeout(timer); exit(); }
    });
  }
  if (open === 0) { clearTimeout(timer); exit(); }
}

// ---- connect + bind ----------------------------------------------------------
let boundCount = 0;
const bindTimer = setTimeout(() => die(`binds not completed within 10 s (${boundCount}/${binds})`), 10000);

function start() {
  clearTimeout(bindTimer);
  tStart = performance.now();
  lastActivity = tStart;
  if (durationS !== null) deadline = tStart + durationS * 1000;
  watchdog = setInterval(() => {
    const now = performance.now();
    if (!canIssue() && totalInflight === 0 && pending.size === 0) return finish(false);
    // No progress for --dlr-timeout: give up on missing responses/receipts.
    if (now - lastActivity > dlrTimeoutMs) finish(true);
    // Duration mode: deadline passed while windows were idle.
    checkDone();
  }, 100);
  for (const s of sessions) pump(s);
}

for (let i = 0; i < binds; i++) {
  const s = { session: null, inflight: 0, up: false };
  s.session = smpp.connect({ host, port }, () => {
    s.session.bind_transceiver({ system_id: systemId, password }, (pdu) => {
      if (pdu.command_status !== 0) die(`bind ${i} failed: status 0x${pdu.command_status.toString(16)}`);
      s.up = true;
      if (++boundCount === binds) start();
    });
  });
  coalesceWrites(s.session.socket);
  s.session.on('deliver_sm', (pdu) => onDeliver(s, pdu));
  s.session.on('enquire_link', (pdu) => s.session.send(pdu.response()));
  s.session.on('unbind', (pdu) => { s.session.send(pdu.response()); s.up = false; });
  s.session.on('close', () => { s.up = false; });
  s.session.on('error', (e) => {
    s.up = false;
    if (!tStart) die(`connect/bind ${i}: ${e.message}`);
  });
  sessions.push(s);
}
