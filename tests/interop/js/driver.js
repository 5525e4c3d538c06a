#!/usr/bin/env node
// JSON-lines driver around the published JavaScript client rsmq@0.12.4.
//
//   node driver.js --host H --port P --ns NS [--realtime]
//
// Prints {"ready":true} once connected (and rsmq's Lua scripts are loaded),
// then answers one JSON line per request line read from stdin, strictly in
// order (one request is processed at a time). Nothing but protocol lines goes
// to stdout; diagnostics go to stderr. See ../README.md for the protocol.
"use strict";

const path = require("path");
const readline = require("readline");

const RedisSMQ = require("rsmq");
// The `redis` package rsmq itself depends on (v3), resolved from rsmq's location.
const redis = require(require.resolve("redis", {
  paths: [path.dirname(require.resolve("rsmq"))],
}));

const REQUEST_TIMEOUT_MS = 30000;
const CONNECT_TIMEOUT_MS = 15000;

function log(...args) {
  process.stderr.write("[js-driver] " + args.map(String).join(" ") + "\n");
}

function parseArgs(argv) {
  const opts = { host: "127.0.0.1", port: 6379, ns: "rsmq", realtime: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case "--host": opts.host = next(); break;
      case "--port": opts.port = parseInt(next(), 10); break;
      case "--ns": opts.ns = next(); break;
      case "--realtime": opts.realtime = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  log("usage: node driver.js --host H --port P --ns NS [--realtime]:", e.message);
  process.exit(2);
}

const rsmq = new RedisSMQ({
  host: opts.host,
  port: opts.port,
  ns: opts.ns,
  realtime: opts.realtime,
});
// rsmq re-emits some redis errors as "error" on itself; without a listener
// EventEmitter would throw and kill the process.
rsmq.on("error", (e) => log("rsmq error event:", e && e.message ? e.message : e));
rsmq.on("disconnect", () => log("rsmq disconnect event"));
rsmq.redis.on("error", (e) => log("redis error:", e && e.message ? e.message : e));

// ---------------------------------------------------------------- output

function writeLine(obj, cb) {
  process.stdout.write(JSON.stringify(obj) + "\n", cb);
}

function okResponse(id, result) {
  return { id, ok: true, result: result === undefined ? null : result };
}

function errResponse(id, err) {
  let name = "Error";
  let message = String(err);
  if (err && typeof err === "object") {
    name = err.name || (err.constructor && err.constructor.name) || "Error";
    message = err.message != null ? String(err.message) : String(err);
  } else if (typeof err === "string") {
    name = err;
  }
  return { id, ok: false, error: name, message };
}

// ---------------------------------------------------------------- helpers

function has(v) {
  return v !== undefined && v !== null;
}

// Copy only the params that are present (absent/null are omitted so the
// peer's own defaults apply).
function pick(req, names) {
  const o = {};
  for (const n of names) {
    if (has(req[n])) o[n] = req[n];
  }
  return o;
}

// The message id of deleteMessage / changeMessageVisibility / validateId.
// `id` is taken by the request correlation id, so the message id travels as
// `msgid`. Fallback: when `msgid` is absent and `id` is a string, `id` is used
// as the message id too (and echoed as the response id).
function messageId(req) {
  if (Object.prototype.hasOwnProperty.call(req, "msgid")) return req.msgid;
  if (typeof req.id === "string") return req.id;
  return undefined;
}

function withMsgId(o, req) {
  const mid = messageId(req);
  if (has(mid)) o.id = mid;
  return o;
}

// Call an rsmq callback-style method, resolving with its result.
function call(method, options) {
  return new Promise((resolve, reject) => {
    const cb = (err, res) => (err ? reject(err) : resolve(res));
    if (options === undefined) rsmq[method](cb);
    else rsmq[method](options, cb);
  });
}

function mapMessage(msg) {
  // rsmq answers {} when there is no message.
  if (!msg || msg.id === undefined) return null;
  return {
    id: msg.id,
    message: msg.message,
    rc: msg.rc,
    fr: msg.fr,
    sent: msg.sent,
    raw: msg,
  };
}

// ---------------------------------------------------------------- pub/sub

let subscriber = null;
const received = new Map(); // channel -> [payload strings]

function getSubscriber() {
  if (subscriber) return subscriber;
  subscriber = redis.createClient({ host: opts.host, port: opts.port });
  subscriber.on("error", (e) => log("subscriber error:", e && e.message ? e.message : e));
  subscriber.on("message", (channel, payload) => {
    if (!received.has(channel)) received.set(channel, []);
    received.get(channel).push(String(payload));
  });
  return subscriber;
}

function subscribe(channel) {
  return new Promise((resolve, reject) => {
    if (typeof channel !== "string" || channel === "") {
      const e = new Error("No channel supplied");
      e.name = "missingParameter";
      reject(e);
      return;
    }
    if (!received.has(channel)) received.set(channel, []);
    // node_redis v3 calls back once the server confirmed the SUBSCRIBE.
    getSubscriber().subscribe(channel, (err) => (err ? reject(err) : resolve(true)));
  });
}

// ---------------------------------------------------------------- ops

const OPS = {
  async createQueue(req) {
    const r = await call("createQueue", pick(req, ["qname", "vt", "delay", "maxsize"]));
    return r === 1 || r === true;
  },
  async deleteQueue(req) {
    const r = await call("deleteQueue", pick(req, ["qname"]));
    return r === 1 || r === true;
  },
  async listQueues() {
    const r = await call("listQueues");
    return [...r].sort();
  },
  async getQueueAttributes(req) {
    return call("getQueueAttributes", pick(req, ["qname"]));
  },
  async setQueueAttributes(req) {
    return call("setQueueAttributes", pick(req, ["qname", "vt", "delay", "maxsize"]));
  },
  async sendMessage(req) {
    // `message` is passed through as-is (even "" or absent): the peer decides.
    const o = pick(req, ["qname", "delay"]);
    if (req.message !== undefined) o.message = req.message;
    return call("sendMessage", o);
  },
  async receiveMessage(req) {
    return mapMessage(await call("receiveMessage", pick(req, ["qname", "vt"])));
  },
  async popMessage(req) {
    return mapMessage(await call("popMessage", pick(req, ["qname"])));
  },
  async deleteMessage(req) {
    const r = await call("deleteMessage", withMsgId(pick(req, ["qname"]), req));
    return r === 1 || r === true;
  },
  async changeMessageVisibility(req) {
    const r = await call("changeMessageVisibility", withMsgId(pick(req, ["qname", "vt"]), req));
    return r === 1 || r === true;
  },
  async validateId(req) {
    // rsmq's own validator: RedisSMQ#_validate(o, ["id"], cb) returns false
    // (and calls cb with missingParameter/invalidFormat) when it rejects.
    let reason = null;
    const res = rsmq._validate({ id: messageId(req) }, ["id"], (err) => { reason = err; });
    if (res === false && reason) log("validateId rejected:", reason.name, reason.message);
    return res !== false;
  },
  async subscribe(req) {
    return subscribe(req.channel);
  },
  async messages(req) {
    return received.has(req.channel) ? received.get(req.channel).slice() : [];
  },
};

function runOp(req) {
  const fn = Object.prototype.hasOwnProperty.call(OPS, req.op) ? OPS[req.op] : null;
  if (!fn) {
    const e = new Error(`unknown op ${JSON.stringify(req.op)}`);
    e.name = "unsupported";
    return Promise.reject(e);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      const e = new Error(`no answer from rsmq within ${REQUEST_TIMEOUT_MS} ms`);
      e.name = "DriverTimeout";
      reject(e);
    }, REQUEST_TIMEOUT_MS);
    let p;
    try {
      p = Promise.resolve(fn(req));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => { if (!settled) { settled = true; clearTimeout(timer); resolve(v); } },
      (e) => { if (!settled) { settled = true; clearTimeout(timer); reject(e); } },
    );
  });
}

// ---------------------------------------------------------------- main loop

let quitting = false;

function shutdown(code) {
  if (quitting) return;
  quitting = true;
  const done = () => process.exit(code);
  const force = setTimeout(done, 2000);
  force.unref();
  let pending = subscriber ? 2 : 1;
  const one = () => { if (--pending === 0) done(); };
  try { rsmq.quit(one); } catch (e) { one(); }
  if (subscriber) {
    try { subscriber.quit(one); } catch (e) { one(); }
  }
}

async function handleLine(line) {
  if (line.trim() === "") return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    writeLine({ id: null, ok: false, error: "BadRequest", message: `invalid JSON: ${e.message}` });
    return;
  }
  if (req === null || typeof req !== "object" || Array.isArray(req)) {
    writeLine({ id: null, ok: false, error: "BadRequest", message: "request must be a JSON object" });
    return;
  }
  const id = has(req.id) ? req.id : null;
  if (req.op === "quit") {
    await new Promise((resolve) => writeLine(okResponse(id, true), resolve));
    shutdown(0);
    return;
  }
  try {
    const result = await runOp(req);
    writeLine(okResponse(id, result));
  } catch (e) {
    writeLine(errResponse(id, e));
  }
}

function startLoop() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  const queue = [];
  let busy = false;
  let ended = false;
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length && !quitting) {
      await handleLine(queue.shift());
    }
    busy = false;
    if (ended && !quitting) shutdown(0);
  };
  rl.on("line", (line) => { queue.push(line); pump(); });
  rl.on("close", () => { ended = true; pump(); });
}

// Ready = connected and all three Lua scripts loaded (calling rsmq before its
// scripts are loaded works too, but leaves one-shot listeners behind).
function scriptsLoaded() {
  return Boolean(rsmq.popMessage_sha1 && rsmq.receiveMessage_sha1 && rsmq.changeMessageVisibility_sha1);
}

const connectTimer = setTimeout(() => {
  log(`could not connect to redis at ${opts.host}:${opts.port} within ${CONNECT_TIMEOUT_MS} ms`);
  process.exit(3);
}, CONNECT_TIMEOUT_MS);

let started = false;
function maybeReady() {
  if (started || !rsmq.connected || !scriptsLoaded()) return;
  started = true;
  clearTimeout(connectTimer);
  writeLine({ ready: true });
  startLoop();
}
for (const ev of ["connect", "scriptload:popMessage", "scriptload:receiveMessage", "scriptload:changeMessageVisibility"]) {
  rsmq.on(ev, maybeReady);
}
maybeReady();
