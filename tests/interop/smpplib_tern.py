#!/usr/bin/env python3
"""Interop with Tern itself: Python's smpplib as the ESME bound to tern.

One bind per run, as --role says:

  trx  bind_transceiver; submit the --messages, each with
       registered_delivery=1; read PDUs until every submit_sm_resp
       message_id has its deliver_sm receipt; query_sm every id; watch
       --quiet seconds for anything more; unbind.
  tx   bind_transmitter; submit the --messages; poll query_sm until every
       id is DELIVERED (so its receipt is in tern, waiting); unbind.
  rx   bind_receiver; read receipts until every --expect id has one; watch
       --quiet seconds for anything more; unbind.

--messages (comma-separated):
  short    one short GSM 7-bit text
  udh      a long GSM text split by smpplib.gsm.make_parts with a
           concatenation UDH: several submit_sm, each its own message for
           tern (own id, own receipt)
  payload  a long GSM text in one submit_sm's message_payload TLV: one id,
           one receipt (tern splits it upstream)

Prints one JSON line on stdout (always, also on failure):
  {"role", "bind_status", "server_system_id",
   "submits": [{"kind", "status", "id"}], "message_ids", "udh_parts",
   "receipts": [{"id", "tlv_id", "text_id", "esm_class", "stat",
                 "message_state"}],
   "not_receipts": [{"esm_class", "text"}],
   "matched", "missing", "duplicates", "unexpected",
   "queries": [{"id", "status", "message_state", "error_code", "final_date"}],
   "unbind_status", "errors"}
Ids are compared exactly as tern wrote them. Exit 0 iff nothing is wrong
(the caller asserts on the JSON either way); every socket operation and the
run as a whole are bounded by --timeout. Only loopback hosts are accepted.

    python3 tests/interop/smpplib_tern.py --port 2775 --system-id demo \
        --password demo --role trx --messages short,udh,payload

With --tls-ca FILE it speaks TLS (Python's ssl), trusting only that CA and
checking the certificate's name (--tls-name, default localhost).
"""

import argparse
import ipaddress
import json
import logging
import re
import select
import socket
import ssl
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

SHORT_TEXT = "Hello from smpplib through Tern @ 100%"
LONG_TEXT = (
    "A long message from smpplib through Tern. It is longer than one SMS can "
    "carry, so smpplib splits it itself into parts with a concatenation UDH, "
    "and each part is a submit_sm of its own with its own message id. Every "
    "part must be accepted, sent upstream and receipted exactly once."
)
PAYLOAD_TEXT = (
    "A long message in the message_payload TLV of one submit_sm. Tern gives "
    "it one message id, splits it into parts for the upstream SMSC and sends "
    "back one receipt for the whole message when every part is delivered."
)

DELIVERED = 2
STATE_NAMES = {
    1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED",
    5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD",
}
ID_RE = re.compile(rb"\bid:(\S+)")
STAT_RE = re.compile(rb"\bstat:(\S+)")
BOUND = (smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX,
         smpplib.consts.SMPP_CLIENT_STATE_BOUND_RX,
         smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX)

log = logging.getLogger("smpplib_tern")


class Failed(Exception):
    """A step that cannot go on (already recorded in errors)."""


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--system-id", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--role", choices=["trx", "tx", "rx"], required=True)
    p.add_argument("--messages", default="short,udh",
                   help="what to submit (trx, tx): short,udh,payload")
    p.add_argument("--expect", default="",
                   help="rx: comma-separated message ids whose receipts must come")
    p.add_argument("--quiet", type=float, default=1.0,
                   help="seconds to watch for unexpected PDUs before unbinding")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="overall seconds for the whole run")
    p.add_argument("--tls-ca", default=None,
                   help="speak TLS, trusting this CA file (PEM)")
    p.add_argument("--tls-name", default="localhost",
                   help="the name tern's certificate must carry")
    p.add_argument("--source", default="TernTest")
    p.add_argument("--dest", default="447700900123")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="smpplib debug logs (PDU hex dumps) on stderr")
    a = p.parse_args(argv)
    a.messages = [m for m in a.messages.split(",") if m]
    for m in a.messages:
        if m not in ("short", "udh", "payload"):
            p.error("unknown --messages kind %r" % m)
    a.expect = [i for i in a.expect.split(",") if i]
    if a.timeout <= 0 or a.quiet < 0:
        p.error("--timeout must be positive and --quiet not negative")
    return a


def loopback_ipv4(host):
    for info in socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM):
        if ipaddress.ip_address(info[4][0]).is_loopback:
            return info[4][0]
    raise ValueError("--host %r is not a loopback address" % host)


class NamedContext(ssl.SSLContext):
    """An SSL context that checks the server's certificate against a name:
    smpplib wraps its socket without giving one."""
    server_name = None

    def wrap_socket(self, sock, *args, **kwargs):
        kwargs.setdefault("server_hostname", self.server_name)
        return super().wrap_socket(sock, *args, **kwargs)


def tls_context(a):
    """With --tls-ca, a client context trusting only that CA (certificate
    and host name checked); else None, plain TCP."""
    if a.tls_ca is None:
        return None
    ctx = NamedContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=a.tls_ca)
    ctx.server_name = a.tls_name
    return ctx


def to_str(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    return str(v).rstrip("\x00")


def describe(e):
    text = str(e)
    if not text and isinstance(e, smpplib.exceptions.ConnectionError):
        text = "connection closed or unreachable"
    return "%s: %s" % (type(e).__name__, text)


class Esme:
    def __init__(self, args):
        self.args = args
        self.deadline = time.monotonic() + args.timeout
        self.client = None
        self.bind_status = None
        self.server_system_id = None
        self.submits = []          # {"kind", "status", "id"}
        self.pending_submits = {}  # sequence -> index into submits
        self.queries = []          # {"id", "status", "message_state", ...}
        self.pending_queries = {}  # sequence -> its entry (not yet in queries)
        self.receipts = []
        self.not_receipts = []
        self.unbind_status = None
        self.errors = []

    # -- plumbing ------------------------------------------------------------

    def err(self, msg):
        log.debug("error: %s", msg)
        self.errors.append(msg)

    def remaining(self):
        return self.deadline - time.monotonic()

    def pump(self, wait):
        """Handle every PDU that comes within `wait` seconds (at least one
        select); raise Failed on a dead link."""
        c = self.client
        if c is None or c._socket is None:
            raise Failed()
        # Never wait past the run's deadline; the socket's own timeout (set
        # at connect) bounds reading the rest of a PDU.
        wait = max(0.0, min(wait, self.remaining()))
        # Over TLS, bytes already read and decrypted wait in the SSL
        # object, where select cannot see them.
        pending = getattr(c._socket, "pending", None)
        if not (pending and pending() > 0):
            readable, _, _ = select.select([c._socket], [], [], wait)
            if not readable:
                return
        try:
            c.read_once(auto_send_enquire_link=False)
        except socket.timeout:
            self.err("timed out in the middle of a PDU")
            raise Failed()
        except Exception as e:  # ConnectionError, PDUError, parse errors
            self.err("reading: %s" % describe(e))
            raise Failed()

    def wait_until(self, what, cond):
        while not cond():
            if self.remaining() <= 0:
                self.err("timed out waiting for %s" % what)
                raise Failed()
            self.pump(min(self.remaining(), 0.5))

    def watch_quiet(self):
        """Keep reading (and answering) for --quiet seconds."""
        until = min(time.monotonic() + self.args.quiet, self.deadline)
        while time.monotonic() < until:
            self.pump(until - time.monotonic())

    # -- smpplib handlers ------------------------------------------------------

    def on_submit_resp(self, pdu, **_):
        i = self.pending_submits.pop(pdu.sequence, None)
        if i is None:
            self.err("submit_sm_resp with unknown sequence %d" % pdu.sequence)
            return
        self.submits[i]["status"] = pdu.status
        if pdu.status == smpplib.consts.SMPP_ESME_ROK:
            self.submits[i]["id"] = to_str(pdu.message_id) or None
            if not self.submits[i]["id"]:
                self.err("submit_sm_resp seq %d: ESME_ROK without a message_id" % pdu.sequence)

    def on_query_resp(self, pdu, **_):
        q = self.pending_queries.pop(pdu.sequence, None)
        if q is None:
            self.err("query_sm_resp with unknown sequence %d" % pdu.sequence)
            return
        q["status"] = pdu.status
        if pdu.status == smpplib.consts.SMPP_ESME_ROK:
            q["message_state"] = pdu.message_state
            q["error_code"] = pdu.error_code
            q["final_date"] = to_str(pdu.final_date)
            resp_id = to_str(pdu.message_id)
            if resp_id != q["id"]:
                self.err("query_sm_resp for %s names %r" % (q["id"], resp_id))

    def on_deliver(self, pdu, **_):
        esm = pdu.esm_class or 0
        text = pdu.short_message or pdu.message_payload or b""
        if not esm & 0x04:
            self.not_receipts.append({"esm_class": esm, "text": to_str(text)})
            return None  # smpplib answers deliver_sm_resp ESME_ROK
        m = ID_RE.search(text)
        text_id = to_str(m.group(1)) if m else None
        m = STAT_RE.search(text)
        stat = to_str(m.group(1)) if m else None
        tlv_id = to_str(pdu.receipted_message_id)
        self.receipts.append({
            "id": tlv_id or text_id,
            "tlv_id": tlv_id,
            "text_id": text_id,
            "esm_class": esm,
            "stat": stat,
            "message_state": pdu.message_state,
        })
        log.debug("receipt tlv id %r, text id %r, stat %r, state %r",
                  tlv_id, text_id, stat, pdu.message_state)
        return None

    def on_error_pdu(self, pdu):
        # submit_sm_resp and query_sm_resp errors are recorded by their own
        # handlers, which smpplib calls next.
        if pdu.command in ("submit_sm_resp", "query_sm_resp"):
            return
        if pdu.command == "generic_nack":
            i = self.pending_submits.pop(pdu.sequence, None)
            if i is not None:
                self.submits[i]["status"] = pdu.status
            q = self.pending_queries.pop(pdu.sequence, None)
            if q is not None:
                q["status"] = pdu.status
        self.err("%s seq %d with status 0x%08x" % (pdu.command, pdu.sequence, pdu.status))

    # -- steps -----------------------------------------------------------------

    def bind(self, host):
        a = self.args
        c = smpplib.client.Client(
            host, a.port, timeout=max(0.5, min(5.0, self.remaining())),
            logger_name="smpplib.%s" % a.role, allow_unknown_opt_params=True,
            ssl_context=tls_context(a))
        c.set_message_sent_handler(self.on_submit_resp)
        c.set_message_received_handler(self.on_deliver)
        c.set_query_resp_handler(self.on_query_resp)
        c.set_error_pdu_handler(self.on_error_pdu)
        self.client = c
        c.connect()
        how = {"trx": c.bind_transceiver, "tx": c.bind_transmitter,
               "rx": c.bind_receiver}[a.role]
        try:
            resp = how(system_id=a.system_id, password=a.password, system_type="")
        except smpplib.exceptions.PDUError as e:
            self.bind_status = e.args[1] if len(e.args) > 1 else None
            self.err("bind_%s refused: %s" % (a.role, describe(e)))
            raise Failed()
        self.bind_status = resp.status
        self.server_system_id = to_str(resp.system_id)

    def messages(self):
        """(kind, submit_sm fields) for each submit_sm to send."""
        out = []
        for kind in self.args.messages:
            if kind == "short":
                parts, coding, esm = smpplib.gsm.make_parts(SHORT_TEXT)
                if len(parts) != 1:
                    raise RuntimeError("the short text made %d parts" % len(parts))
                out.append(("short", dict(short_message=parts[0], data_coding=coding,
                                          esm_class=esm)))
            elif kind == "udh":
                parts, coding, esm = smpplib.gsm.make_parts(LONG_TEXT)
                if len(parts) < 2 or not esm & smpplib.consts.SMPP_GSMFEAT_UDHI:
                    raise RuntimeError("make_parts gave %d part(s), esm_class 0x%02x"
                                       % (len(parts), esm))
                for n, part in enumerate(parts, 1):
                    out.append(("udh %d/%d" % (n, len(parts)),
                                dict(short_message=part, data_coding=coding, esm_class=esm)))
            else:
                payload = smpplib.gsm.gsm_encode(PAYLOAD_TEXT)
                out.append(("payload", dict(message_payload=payload,
                                            data_coding=smpplib.consts.SMPP_ENCODING_DEFAULT,
                                            esm_class=smpplib.consts.SMPP_MSGMODE_DEFAULT)))
        return out

    def submit_all(self):
        for kind, fields in self.messages():
            pdu = self.client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr=self.args.source,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=self.args.dest,
                registered_delivery=smpplib.consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
                **fields)
            self.pending_submits[pdu.sequence] = len(self.submits)
            self.submits.append({"kind": kind, "status": None, "id": None})
            self.pump(0)  # whatever is already there
        self.wait_until("every submit_sm_resp", lambda: not self.pending_submits)

    def ids(self):
        return [s["id"] for s in self.submits if s["id"]]

    def wanted(self):
        """The ids whose receipts this bind must get."""
        return {"trx": self.ids(), "tx": [], "rx": self.args.expect}[self.args.role]

    def all_receipted(self):
        got = {r["id"] for r in self.receipts}
        return all(i in got for i in self.wanted())

    def query(self, mid):
        """query_sm and wait for its answer; the entry (not kept)."""
        pdu = smpplib.smpp.make_pdu(
            "query_sm", client=self.client, message_id=mid,
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr=self.args.source)
        q = {"id": mid, "status": None, "message_state": None,
             "error_code": None, "final_date": None}
        self.pending_queries[pdu.sequence] = q
        if self.client.state == smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX:
            # smpplib 2.2.4's COMMAND_STATES lets query_sm out of receiver
            # and transceiver binds only, the reverse of SMPP 3.4 (2.3: an
            # ESME bound as transmitter or transceiver queries); send it
            # past that check, as smpplib itself would have written it.
            try:
                self.client._socket.sendall(pdu.generate())
            except OSError as e:
                self.err("sending query_sm: %s" % describe(e))
                raise Failed()
        else:
            self.client.send_pdu(pdu)
        self.wait_until("query_sm_resp for %s" % mid, lambda: pdu.sequence not in self.pending_queries)
        return q

    def query_all(self):
        for mid in self.ids():
            self.queries.append(self.query(mid))

    def poll_until_delivered(self):
        """tx: query_sm every id until each is DELIVERED; queries keeps
        each id's last answer."""
        last = {}
        try:
            left = self.ids()
            while left:
                for mid in left:
                    last[mid] = self.query(mid)
                left = [i for i in left if last[i]["status"] != 0
                        or last[i]["message_state"] != DELIVERED]
                if left and self.remaining() <= 0:
                    self.err("timed out waiting for DELIVERED: %s" % left)
                    raise Failed()
                if left:
                    time.sleep(min(0.2, self.remaining()))
        finally:
            self.queries = [last[i] for i in self.ids() if i in last]

    def unbind(self):
        """Unbind and read until the unbind_resp (smpplib's unbind() would
        take any PDU, a receipt say, as the response)."""
        c = self.client
        if c is None or c._socket is None or c.state not in BOUND:
            return
        try:
            p = smpplib.smpp.make_pdu("unbind", client=c)
            c.send_pdu(p)
        except Exception as e:
            self.err("sending unbind: %s" % describe(e))
            return
        until = time.monotonic() + max(0.5, min(5.0, self.remaining() + 5.0))
        while c._socket is not None and c.state in BOUND:
            left = until - time.monotonic()
            if left <= 0:
                self.err("no unbind_resp within the time limit")
                return
            readable, _, _ = select.select([c._socket], [], [], left)
            if not readable:
                continue
            try:
                pdu = c.read_pdu()
            except Exception as e:
                self.err("waiting for unbind_resp: %s" % describe(e))
                return
            if pdu.command == "unbind_resp":
                self.unbind_status = pdu.status
                if pdu.status != smpplib.consts.SMPP_ESME_ROK:
                    self.err("unbind_resp status 0x%08x" % pdu.status)
                return
            if pdu.command == "deliver_sm":
                c._message_received(pdu)
            elif pdu.command == "enquire_link":
                c._enquire_link_received(pdu)
            else:
                self.err("%s while waiting for unbind_resp" % pdu.command)

    def disconnect(self):
        c = self.client
        if c is None or c._socket is None:
            return
        try:
            if c.state == smpplib.consts.SMPP_CLIENT_STATE_OPEN:
                c.disconnect()
            else:
                c._socket.close()
                c._socket = None
                c.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED
        except Exception as e:
            self.err("disconnect: %s" % describe(e))

    def run(self):
        a = self.args
        try:
            self.bind(loopback_ipv4(a.host))
            if a.role in ("trx", "tx"):
                self.submit_all()
            if a.role == "tx":
                self.poll_until_delivered()
            else:
                self.wait_until("every receipt", self.all_receipted)
                if a.role == "trx":
                    self.query_all()
                self.watch_quiet()
        except Failed:
            pass
        except Exception as e:
            self.err(describe(e))
        finally:
            try:
                self.unbind()
            finally:
                self.disconnect()

    def report(self):
        ids = self.ids()
        wanted = self.wanted()
        counts = {}
        for r in self.receipts:
            counts[r["id"]] = counts.get(r["id"], 0) + 1
        return {
            "role": self.args.role,
            "bind_status": self.bind_status,
            "server_system_id": self.server_system_id,
            "submits": self.submits,
            "message_ids": ids,
            "udh_parts": sum(1 for s in self.submits if s["kind"].startswith("udh")),
            "receipts": self.receipts,
            "not_receipts": self.not_receipts,
            "matched": [i for i in wanted if counts.get(i, 0) >= 1],
            "missing": [i for i in wanted if counts.get(i, 0) == 0],
            "duplicates": sorted(i for i, n in counts.items() if n > 1),
            "unexpected": [r["id"] for r in self.receipts if r["id"] not in wanted],
            "queries": self.queries,
            "unbind_status": self.unbind_status,
            "errors": self.errors,
        }


def problems(r):
    out = list(r["errors"])
    if r["bind_status"] != 0:
        out.append("bind status %r" % r["bind_status"])
    out += ["submit %s: status %r" % (s["kind"], s["status"])
            for s in r["submits"] if s["status"] != 0]
    if len(set(r["message_ids"])) != len(r["message_ids"]):
        out.append("one message_id given to two submits")
    for k in ("missing", "duplicates", "unexpected", "not_receipts"):
        if r[k]:
            out.append("%s: %s" % (k, r[k]))
    for rc in r["receipts"]:
        if (rc["esm_class"] != 0x04 or rc["tlv_id"] != rc["text_id"]
                or rc["message_state"] != DELIVERED or rc["stat"] != "DELIVRD"):
            out.append("odd receipt %s" % rc)
    out += ["query %s" % q for q in r["queries"]
            if q["status"] != 0 or q["message_state"] != DELIVERED]
    if r["unbind_status"] != 0:
        out.append("unbind status %r" % r["unbind_status"])
    return out


def main():
    args = parse_args(sys.argv[1:])
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    esme = Esme(args)
    try:
        esme.run()
    except KeyboardInterrupt:
        esme.err("interrupted")
    r = esme.report()
    print(json.dumps(r), flush=True)
    bad = problems(r)
    for p in bad:
        print("FAIL: %s" % p, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
