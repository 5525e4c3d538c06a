#!/usr/bin/env python3
"""JSON-lines driver around the published Python client PyRSMQ 0.6.1.

    python driver.py --host H --port P --ns NS [--realtime]

Prints {"ready":true} once Redis answered a PING, then answers one JSON line
per request line read from stdin, in order. Nothing but protocol lines goes to
stdout (PyRSMQ itself print()s in places, so sys.stdout is pointed at stderr
and protocol lines go to a private handle); diagnostics go to stderr.
See ../README.md for the protocol and the PyRSMQ quirks.

Parameters are applied with PyRSMQ's chainable setters (cmd.vt(30) ...)
rather than keyword arguments: the setters raise InvalidParameterValue on a
bad value, whereas keyword arguments are silently dropped and the default is
used instead.
"""

import argparse
import json
import sys
import traceback

from rsmq import RedisSMQ
from rsmq.cmd import NoMessageInQueue

# Protocol output: a private handle on the real stdout. Everything else that
# writes to sys.stdout (e.g. PyRSMQ's `print("Detected :")` in its qname
# validator) lands on stderr instead.
sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape")
PROTO_OUT = sys.stdout
PROTO_OUT.reconfigure(encoding="utf-8", errors="strict", newline="\n")
sys.stdout = sys.stderr


class DriverError(Exception):
    """An error raised by the driver itself (not by PyRSMQ)."""

    def __init__(self, name, message):
        super().__init__(message)
        self.name = name


def log(*args):
    print("[py-driver]", *args, file=sys.stderr, flush=True)


def write_line(obj):
    PROTO_OUT.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")
    PROTO_OUT.flush()


def has(req, name):
    return req.get(name) is not None


def message_id(req):
    """The message id of deleteMessage / changeMessageVisibility / validateId.

    `id` is taken by the request correlation id, so the message id travels as
    `msgid`. Fallback: when `msgid` is absent and `id` is a string, `id` is
    used as the message id too (and echoed as the response id)."""
    if "msgid" in req:
        return req["msgid"]
    if isinstance(req.get("id"), str):
        return req["id"]
    return None


def build(cmd, req, names, msgid=False):
    """Apply present (non-null) params via PyRSMQ's validating setters."""
    for name in names:
        if has(req, name):
            getattr(cmd, name)(req[name])
    if msgid:
        mid = message_id(req)
        if mid is not None:
            cmd.id(mid)
    return cmd


def execute(cmd):
    # With exceptions enabled PyRSMQ raises on errors, except when a required
    # parameter is missing: then execute() silently returns False. Report that.
    if not cmd.ready():
        missing = [p for p in cmd._required_params() if not cmd._validate_param(p, cmd._params.get(p))]
        raise DriverError(
            "NotReady",
            "PyRSMQ command not ready (execute() would return False); "
            "missing or invalid required parameter(s): " + ", ".join(missing),
        )
    return cmd.execute()


def map_message(msg):
    # PyRSMQ returns {"id", "message", "rc", "ts"}; ts is the first-receive
    # time (JS calls it fr). PyRSMQ does not report `sent`.
    return {
        "id": msg.get("id"),
        "message": msg.get("message"),
        "rc": msg.get("rc"),
        "fr": msg.get("ts"),
        "sent": msg.get("sent"),
        "raw": msg,
    }


class Driver:
    def __init__(self, rsmq):
        self.rsmq = rsmq

    def op_createQueue(self, req):
        return execute(build(self.rsmq.createQueue(), req, ["qname", "vt", "delay", "maxsize"]))

    def op_deleteQueue(self, req):
        return execute(build(self.rsmq.deleteQueue(), req, ["qname"]))

    def op_listQueues(self, req):
        return sorted(execute(self.rsmq.listQueues()))

    def op_getQueueAttributes(self, req):
        return execute(build(self.rsmq.getQueueAttributes(), req, ["qname"]))

    def op_setQueueAttributes(self, req):
        return execute(build(self.rsmq.setQueueAttributes(), req, ["qname", "vt", "delay", "maxsize"]))

    def op_sendMessage(self, req):
        cmd = build(self.rsmq.sendMessage(), req, ["qname", "delay"])
        # `encode` stays at its default (False) and str bodies are stored as-is.
        # The message goes through the setter even when empty: the peer decides.
        if "message" in req:
            cmd.message(req["message"])
        return execute(cmd)

    def op_receiveMessage(self, req):
        try:
            return map_message(execute(build(self.rsmq.receiveMessage(), req, ["qname", "vt"])))
        except NoMessageInQueue:
            return None

    def op_popMessage(self, req):
        try:
            return map_message(execute(build(self.rsmq.popMessage(), req, ["qname"])))
        except NoMessageInQueue:
            return None

    def op_deleteMessage(self, req):
        return bool(execute(build(self.rsmq.deleteMessage(), req, ["qname"], msgid=True)))

    def op_changeMessageVisibility(self, req):
        cmd = build(self.rsmq.changeMessageVisibility(), req, ["qname", "vt"], msgid=True)
        try:
            return bool(execute(cmd))
        except NoMessageInQueue:
            # PyRSMQ raises NoMessageInQueue when the Lua script answers 0
            # (id not in the queue); JS answers 0 there.
            return False

    def op_validateId(self, req):
        # PyRSMQ's only id validation: BaseRSMQCommand._validate_param("id", v),
        # which falls back to _default_validator (any truthy value passes).
        cmd = self.rsmq.deleteMessage()
        return bool(cmd._validate_param("id", message_id(req)))

    def op_subscribe(self, req):
        raise DriverError("unsupported", "PyRSMQ has no realtime/pub-sub support")

    def op_messages(self, req):
        raise DriverError("unsupported", "PyRSMQ has no realtime/pub-sub support")

    def handle(self, req):
        op = req.get("op")
        fn = getattr(self, "op_" + op, None) if isinstance(op, str) else None
        if fn is None:
            raise DriverError("unsupported", "unknown op %s" % json.dumps(op))
        return fn(req)


def error_response(rid, exc):
    name = getattr(exc, "name", None) if isinstance(exc, DriverError) else type(exc).__name__
    return {"id": rid, "ok": False, "error": name, "message": str(exc)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--ns", default="rsmq")
    ap.add_argument("--realtime", action="store_true",
                    help="passed to PyRSMQ, which accepts the option but never publishes")
    args = ap.parse_args()

    rsmq = RedisSMQ(host=args.host, port=args.port, ns=args.ns,
                    realtime=args.realtime, exceptions=True)
    try:
        rsmq.client.ping()
    except Exception as exc:  # pylint: disable=broad-except
        log("could not connect to redis at %s:%s: %r" % (args.host, args.port, exc))
        return 3
    write_line({"ready": True})

    driver = Driver(rsmq)
    while True:
        line = sys.stdin.readline()
        if line == "":
            break  # EOF
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except ValueError as exc:
            write_line({"id": None, "ok": False, "error": "BadRequest", "message": "invalid JSON: %s" % exc})
            continue
        if not isinstance(req, dict):
            write_line({"id": None, "ok": False, "error": "BadRequest", "message": "request must be a JSON object"})
            continue
        rid = req.get("id")
        if req.get("op") == "quit":
            write_line({"id": rid, "ok": True, "result": True})
            break
        try:
            result = driver.handle(req)
            resp = {"id": rid, "ok": True, "result": result}
            line_out = json.dumps(resp, ensure_ascii=False, allow_nan=False)
        except Exception as exc:  # pylint: disable=broad-except
            log("op %r failed: %s" % (req.get("op"), traceback.format_exc().strip().splitlines()[-1]))
            write_line(error_response(rid, exc))
            continue
        PROTO_OUT.write(line_out + "\n")
        PROTO_OUT.flush()

    try:
        rsmq.quit()
    except Exception:  # pylint: disable=broad-except
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
