#!/usr/bin/env python3
"""Interop check: drive an SMSC (Tern or smsc-sim) with Python's smpplib.

Binds with smpplib (one transceiver, or a transmitter plus a receiver),
submits --count messages asking for receipts, records each submit_sm_resp's
message_id, then reads until every accepted id has its delivery receipt (or
--timeout runs out), unbinds and disconnects.

Prints one JSON line on stdout:
  {"submitted", "accepted", "message_ids", "receipts": [{"id", "stat"}],
   "matched", "unmatched_receipts", "errors"}
"submitted" counts submit_sm PDUs (a --long message is several parts, each
its own submit_sm with its own message id and receipt).

Exit 0 iff every submit_sm was answered ESME_ROK and every accepted id got
exactly one receipt within --timeout; otherwise exit 1 with the reasons on
stderr. Only loopback addresses are accepted as --host.

    pip install -r tests/interop/requirements.txt
    python3 tests/interop/smpplib_client.py --host 127.0.0.1 --port 2776 \
        --system-id test --password secret [--mode trx|tx+rx] [--count 3] \
        [--long] [--ucs2] [--timeout 20]
"""

import argparse
import ipaddress
import json
import logging
import re
import select
import socket
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm
import smpplib.smpp

SHORT_TEXT = "Hello from smpplib, interop check @ Tern"
UCS2_TEXT = "Привет мир 👋"
LONG_TEXT = (
    "This is a long message from the smpplib interop check for Tern. "
    "It is longer than one SMS can carry, so smpplib splits it into parts "
    "with a concatenation UDH; each part is its own submit_sm with its own "
    "message id and receipt. Every part must be accepted and receipted once."
)
LONG_UCS2_TEXT = (
    "Это длинное сообщение от проверки совместимости smpplib с Tern. "
    "Оно длиннее одного SMS, поэтому smpplib делит его на части с заголовком "
    "UDH, и каждая часть получает свой message id и своё уведомление о "
    "доставке. Каждая часть должна быть принята ровно один раз. 👋"
)

# message_state values (SMPP 3.4, 5.2.28) -> receipt stat words.
STATE_NAMES = {
    1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED",
    5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD",
}

ID_RE = re.compile(rb"\bid:(\S+)", re.IGNORECASE)
STAT_RE = re.compile(rb"\bstat:(\S+)", re.IGNORECASE)

log = logging.getLogger("smpplib_client")


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # exit 1 (not argparse's 2) like every failure
        raise UsageError(message)


def parse_args(argv):
    p = Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--system-id", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--system-type", default="")
    p.add_argument("--mode", choices=["trx", "tx+rx"], default="trx")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--long", action="store_true",
                   help="a ~300-character text split by smpplib.gsm.make_parts")
    p.add_argument("--ucs2", action="store_true", help="a UCS-2 text")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="overall seconds for bind, submits and receipts")
    p.add_argument("--source", default="TernTest")
    p.add_argument("--dest", default="447700900123")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="smpplib debug logs (PDU hex dumps) on stderr")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be at least 1")
    if a.timeout <= 0:
        p.error("--timeout must be positive")
    return a


def loopback_ipv4(host):
    """Resolve host to an IPv4 loopback address, or raise UsageError."""
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError("cannot resolve --host %r: %s" % (host, e))
    for info in infos:
        addr = info[4][0]
        if ipaddress.ip_address(addr).is_loopback:
            return addr
    raise UsageError("--host %r is not a loopback address" % host)


def describe(e):
    """smpplib raises ConnectionError() without a message on EOF."""
    text = str(e)
    if not text and type(e).__name__ == "ConnectionError":
        text = "connection closed or unreachable"
    return "%s: %s" % (type(e).__name__, text)


def to_str(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return str(v)


class Run:
    def __init__(self, args):
        self.args = args
        self.start = time.monotonic()
        self.deadline = self.start + args.timeout
        # per-operation socket timeout; never longer than the whole run
        self.op_timeout = max(0.5, min(5.0, args.timeout))
        self.clients = []          # every connected smpplib Client
        self.tx = None             # client used for submit_sm
        self.pending = {}          # sequence -> index into self.submits
        self.submits = []          # {"status": int|None, "id": str|None}
        self.receipts = []         # {"id", "stat", "tlv_id", "text_id"}
        self.errors = []

    # -- helpers ---------------------------------------------------------

    def err(self, msg):
        log.debug("error: %s", msg)
        self.errors.append(msg)

    def remaining(self):
        return self.deadline - time.monotonic()

    def make_client(self, host, role):
        c = smpplib.client.Client(
            host, self.args.port, timeout=self.op_timeout,
            logger_name="smpplib.%s" % role,
            allow_unknown_opt_params=True,
        )
        c.set_message_sent_handler(self.on_submit_resp)
        c.set_message_received_handler(self.on_deliver)
        c.set_error_pdu_handler(self.on_error_pdu)
        c.role = role
        return c

    # -- smpplib handlers --------------------------------------------------

    def on_submit_resp(self, pdu, **_):
        i = self.pending.pop(pdu.sequence, None)
        if i is None:
            self.err("submit_sm_resp with unknown sequence %d" % pdu.sequence)
            return
        self.submits[i]["status"] = pdu.status
        if pdu.status == smpplib.consts.SMPP_ESME_ROK:
            mid = to_str(pdu.message_id)
            if not mid:
                self.err("submit_sm_resp seq %d: ESME_ROK with an empty message_id"
                         % pdu.sequence)
            self.submits[i]["id"] = mid or None
        else:
            self.err("submit_sm #%d rejected: status 0x%08x (%s)" % (
                i + 1, pdu.status, pdu.get_status_desc()))

    def on_deliver(self, pdu, **_):
        esm = pdu.esm_class or 0
        if not esm & 0x04:
            log.info("ignoring a deliver_sm that is not a receipt (esm_class 0x%02x)", esm)
            return None  # smpplib answers deliver_sm_resp ESME_ROK
        text = pdu.short_message or b""
        if not text and pdu.message_payload:
            text = pdu.message_payload
        m = ID_RE.search(text)
        text_id = to_str(m.group(1)) if m else None
        m = STAT_RE.search(text)
        stat = to_str(m.group(1)) if m else None
        tlv_id = to_str(pdu.receipted_message_id)
        if tlv_id is not None:
            tlv_id = tlv_id.rstrip("\x00")
        if stat is None and pdu.message_state is not None:
            stat = STATE_NAMES.get(pdu.message_state, str(pdu.message_state))
        rid = tlv_id or text_id
        if rid is None:
            self.err("receipt without receipted_message_id TLV or id: in text: %r" % text)
        if tlv_id and text_id and tlv_id.lower() != text_id.lower():
            self.err("receipt ids disagree: receipted_message_id %r, text id:%r"
                     % (tlv_id, text_id))
        if (pdu.message_state is not None and stat
                and STATE_NAMES.get(pdu.message_state, "") != stat.upper()):
            self.err("receipt %s: message_state TLV %d disagrees with stat:%s"
                     % (rid, pdu.message_state, stat))
        self.receipts.append({"id": rid, "stat": stat})
        log.debug("receipt id=%s stat=%s (tlv %r, text %r)", rid, stat, tlv_id, text_id)
        return None

    def on_error_pdu(self, pdu):
        # submit_sm_resp errors are recorded by on_submit_resp, which smpplib
        # calls next; anything else with a non-zero status is recorded here.
        if pdu.command == "submit_sm_resp":
            return
        i = self.pending.pop(pdu.sequence, None) if pdu.command == "generic_nack" else None
        if i is not None:
            self.submits[i]["status"] = pdu.status
        self.err("%s seq %d with status 0x%08x (%s)%s" % (
            pdu.command, pdu.sequence, pdu.status, pdu.get_status_desc(),
            " for submit_sm #%d" % (i + 1) if i is not None else ""))

    # -- phases ------------------------------------------------------------

    def connect_and_bind(self, host):
        a = self.args
        kw = dict(system_id=a.system_id, password=a.password, system_type=a.system_type)
        if a.mode == "trx":
            c = self.make_client(host, "trx")
            self.clients.append(c)
            c.connect()
            c.bind_transceiver(**kw)
            self.tx = c
        else:
            rx = self.make_client(host, "rx")
            self.clients.append(rx)
            rx.connect()
            rx.bind_receiver(**kw)
            tx = self.make_client(host, "tx")
            self.clients.append(tx)
            tx.connect()
            tx.bind_transmitter(**kw)
            self.tx = tx

    def build_parts(self):
        a = self.args
        if a.long:
            text = LONG_UCS2_TEXT if a.ucs2 else LONG_TEXT
        else:
            text = UCS2_TEXT if a.ucs2 else SHORT_TEXT
        encoding = (smpplib.consts.SMPP_ENCODING_ISO10646 if a.ucs2
                    else smpplib.consts.SMPP_ENCODING_DEFAULT)
        parts, coding, esm_class = smpplib.gsm.make_parts(text, encoding=encoding)
        if a.long and len(parts) < 2:
            raise RuntimeError("make_parts gave %d part(s) for the long text" % len(parts))
        return parts, coding, esm_class

    def submit_all(self):
        parts, coding, esm_class = self.build_parts()
        for n in range(self.args.count):
            for part in parts:
                if self.remaining() <= 0:
                    self.err("deadline reached while submitting")
                    return
                pdu = self.tx.send_message(
                    source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                    source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                    source_addr=self.args.source,
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr=self.args.dest,
                    short_message=part,
                    data_coding=coding,
                    esm_class=esm_class,
                    registered_delivery=smpplib.consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
                )
                self.pending[pdu.sequence] = len(self.submits)
                self.submits.append({"status": None, "id": None})
                # drain whatever is already there (responses, receipts)
                self.pump(0)

    def done(self):
        if self.pending:
            return False
        want = {s["id"].lower() for s in self.submits if s["id"]}
        got = {r["id"].lower() for r in self.receipts if r["id"]}
        return want <= got

    def pump(self, wait):
        """Read every PDU that is ready within `wait` seconds; False on a dead link."""
        socks = {c._socket: c for c in self.clients if c._socket is not None}
        if not socks:
            return False
        readable, _, _ = select.select(list(socks), [], [], max(0.0, wait))
        for s in readable:
            c = socks[s]
            try:
                # auto_send_enquire_link=False: a timeout mid-PDU is an error,
                # not something to paper over with an enquire_link.
                c.read_once(auto_send_enquire_link=False)
            except socket.timeout:
                self.err("%s: timed out in the middle of a PDU" % c.role)
                return False
            except Exception as e:  # ConnectionError, PDUError, parse errors
                self.err("%s: %s" % (c.role, describe(e)))
                return False
        return True

    def wait_for_receipts(self):
        while not self.done():
            left = self.remaining()
            if left <= 0:
                break
            if not self.pump(min(left, 1.0)):
                break

    def unbind_all(self):
        """Unbind every client, answering deliver_sm that arrive meanwhile.

        smpplib's Client.unbind() takes the next PDU as the unbind_resp, which
        on a receiver or transceiver may well be a receipt; so the unbind is
        sent with smpplib's own PDU factory and the reply is read with
        read_once() until the client's state drops back to OPEN.
        """
        limit = time.monotonic() + self.op_timeout
        for c in self.clients:
            if c._socket is None or c.state not in (
                    smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX,
                    smpplib.consts.SMPP_CLIENT_STATE_BOUND_RX,
                    smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX):
                continue
            try:
                c.send_pdu(smpplib.smpp.make_pdu("unbind", client=c))
            except Exception as e:
                self.err("%s: sending unbind: %s" % (c.role, describe(e)))
        for c in self.clients:
            while (c._socket is not None
                   and c.state != smpplib.consts.SMPP_CLIENT_STATE_OPEN
                   and c.state != smpplib.consts.SMPP_CLIENT_STATE_CLOSED):
                left = limit - time.monotonic()
                if left <= 0:
                    self.err("%s: no unbind_resp within %.1fs" % (c.role, self.op_timeout))
                    break
                readable, _, _ = select.select([c._socket], [], [], left)
                if not readable:
                    continue
                try:
                    c.read_once(auto_send_enquire_link=False)
                except Exception as e:
                    self.err("%s: waiting for unbind_resp: %s" % (c.role, describe(e)))
                    break

    def disconnect_all(self):
        for c in self.clients:
            try:
                if c._socket is None:
                    continue
                if c.state == smpplib.consts.SMPP_CLIENT_STATE_CLOSED:
                    # connect() failed: disconnect() would warn "in the bound state"
                    c._socket.close()
                    c._socket = None
                else:
                    c.disconnect()
            except Exception as e:
                self.err("%s: disconnect: %s" % (c.role, e))

    # -- the run -------------------------------------------------------------

    def run(self):
        host = loopback_ipv4(self.args.host)
        try:
            self.connect_and_bind(host)
            self.submit_all()
            self.wait_for_receipts()
        except Exception as e:
            self.err(describe(e))
        finally:
            try:
                self.unbind_all()
            finally:
                self.disconnect_all()

    def verdict(self):
        """Build the JSON report and the list of reasons to fail."""
        ids = [s["id"] for s in self.submits if s["id"]]
        accepted = sum(1 for s in self.submits
                       if s["status"] == smpplib.consts.SMPP_ESME_ROK and s["id"])
        counts = {}
        for r in self.receipts:
            if r["id"]:
                counts[r["id"].lower()] = counts.get(r["id"].lower(), 0) + 1
        wanted = {i.lower() for i in ids}
        matched = sum(1 for i in ids if counts.get(i.lower(), 0) >= 1)
        unmatched = [r["id"] for r in self.receipts if not r["id"] or r["id"].lower() not in wanted]
        reasons = []
        if not self.submits:
            reasons.append("nothing was submitted")
        if accepted != len(self.submits):
            unanswered = sum(1 for s in self.submits if s["status"] is None)
            reasons.append("%d of %d submits accepted (%d unanswered)"
                           % (accepted, len(self.submits), unanswered))
        if len(set(i.lower() for i in ids)) != len(ids):
            reasons.append("the SMSC gave the same message_id to two submits")
        missing = [i for i in ids if counts.get(i.lower(), 0) == 0]
        if missing:
            reasons.append("no receipt within %gs for %s" % (self.args.timeout, missing))
        dups = [i for i in ids if counts.get(i.lower(), 0) > 1]
        if dups:
            reasons.append("more than one receipt for %s" % dups)
        report = {
            "submitted": len(self.submits),
            "accepted": accepted,
            "message_ids": ids,
            "receipts": self.receipts,
            "matched": matched,
            "unmatched_receipts": unmatched,
            "errors": self.errors,
        }
        return report, reasons


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        print(json.dumps({"submitted": 0, "accepted": 0, "message_ids": [], "receipts": [],
                          "matched": 0, "unmatched_receipts": [], "errors": [str(e)]}))
        print("usage error: %s" % e, file=sys.stderr)
        return 1
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # read_once() has no case for unbind_resp and logs it as "Unhandled";
    # unbind_all() reads it that way on purpose, so drop that one warning.
    logging.getLogger().handlers[0].addFilter(
        lambda rec: 'Unhandled SMPP command "unbind_resp"' not in rec.getMessage())
    run = Run(args)
    try:
        run.run()
    except UsageError as e:
        run.err(str(e))
    except KeyboardInterrupt:
        run.err("interrupted")
    report, reasons = run.verdict()
    if run.errors and not reasons and not args.verbose:
        for e in run.errors:
            print("warning: %s" % e, file=sys.stderr)
    print(json.dumps(report, ensure_ascii=False), flush=True)
    if reasons:
        for r in reasons:
            print("FAIL: %s" % r, file=sys.stderr)
        for e in run.errors:
            print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
