#!/usr/bin/env node
// Benchmark worker around the published JavaScript client rsmq@0.12.4, driven by rsmq-bench.
//
//   node rsmq_bench.js --host H --port P [--db N] [--password X] --ns NS --qname Q
//                      --op send|recvdel|pop --size BYTES --conc C
//                      --warmup CALLS --duration-ms MS
//
// One rsmq client (one node_redis connection, which pipelines whatever is in flight).
// Waits for rsmq's scripts to load, runs CALLS warm-up calls, prints {"ready":true}, then
// reads commands on stdin, one per line:
//   run N   a timed round: C async workers claim calls until N calls or MS milliseconds,
//           each call timed around the client call only. Prints one JSON line:
//           {"ok":true,"calls":..,"msgs":..,"empty":..,"errors":..,"first_error":..,
//            "elapsed_s":..,"cpu_us":..,"p50_us":..,"p99_us":..}
//           (p50/p99 over every timed call of every round so far).
//   quit    closes the client and exits.
// The queue must exist (and be filled for recvdel/pop): rsmq-bench does that.
// On failure prints {"ok":false,"missing":true|false,"error":"..."} (exit 3: rsmq missing).
"use strict";

const path = require("path");
const readline = require("readline");

const RSMQ_MODULE = process.env.RSMQ_JS_MODULE ||
  path.join(__dirname, "..", "..", "tests", "interop", "js", "node_modules", "rsmq");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

let RedisSMQ;
try {
  RedisSMQ = require(RSMQ_MODULE);
} catch (e) {
  out({ ok: false, missing: true, error: `cannot load rsmq from ${RSMQ_MODULE}: ${e.message}` });
  process.exit(3);
}

function parseArgs(argv) {
  const o = {
    host: "127.0.0.1", port: 6379, db: 0, password: null, ns: "rsmq", qname: "q",
    op: "send", size: 100, conc: 1, warmup: 100, durationMs: 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case "--host": o.host = v(); break;
      case "--port": o.port = parseInt(v(), 10); break;
      case "--db": o.db = parseInt(v(), 10); break;
      case "--password": o.password = v(); break;
      case "--ns": o.ns = v(); break;
      case "--qname": o.qname = v(); break;
      case "--op": o.op = v(); break;
      case "--size": o.size = parseInt(v(), 10); break;
      case "--conc": o.conc = parseInt(v(), 10); break;
      case "--warmup": o.warmup = parseInt(v(), 10); break;
      case "--duration-ms": o.durationMs = parseInt(v(), 10); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!["send", "recvdel", "pop"].includes(o.op)) throw new Error(`unknown op ${o.op}`);
  return o;
}

function fail(msg) {
  out({ ok: false, missing: false, error: msg });
  process.exit(1);
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    fail(e.message);
  }

  const options = { host: o.host, port: o.port, ns: o.ns, realtime: false };
  if (o.password) options.password = o.password;
  if (o.db) options.db = o.db;
  const rsmq = new RedisSMQ(options);

  // Connected, and the receive/pop scripts loaded (otherwise every early call registers a
  // listener and waits for the load).
  const deadline = Date.now() + 15000;
  while (!(rsmq.connected && rsmq.receiveMessage_sha1 && rsmq.popMessage_sha1)) {
    if (Date.now() > deadline) fail("rsmq did not connect and load its scripts within 15 s");
    await new Promise((r) => setTimeout(r, 5));
  }

  const qname = o.qname;
  const body = "x".repeat(o.size);
  let op;
  switch (o.op) {
    case "send":
      op = async () => {
        await rsmq.sendMessageAsync({ qname, message: body });
        return 1;
      };
      break;
    case "recvdel":
      op = async () => {
        const m = await rsmq.receiveMessageAsync({ qname });
        if (!m.id) return 0;
        await rsmq.deleteMessageAsync({ qname, id: m.id });
        return 1;
      };
      break;
    case "pop":
      op = async () => {
        const m = await rsmq.popMessageAsync({ qname });
        return m.id ? 1 : 0;
      };
      break;
  }

  const allLat = [];

  async function phase(maxCalls, durationMs, record) {
    const r = { calls: 0, msgs: 0, empty: 0, errors: 0, first_error: null };
    let next = 0;
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    const end = durationMs > 0 ? start + BigInt(durationMs) * 1000000n : null;
    async function worker() {
      for (;;) {
        if (next >= maxCalls) return;
        if (end !== null && process.hrtime.bigint() >= end) return;
        next++;
        const t0 = process.hrtime.bigint();
        try {
          const n = await op();
          if (n === 0) r.empty++;
          r.msgs += n;
        } catch (e) {
          r.errors++;
          if (r.first_error === null) r.first_error = String((e && e.message) || e);
        }
        if (record) allLat.push(Number(process.hrtime.bigint() - t0));
        r.calls++;
      }
    }
    await Promise.all(Array.from({ length: o.conc }, worker));
    r.elapsed_s = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    r.cpu_us = cpu.user + cpu.system;
    return r;
  }

  function percentiles() {
    const sorted = Float64Array.from(allLat).sort();
    const pct = (p) => {
      if (sorted.length === 0) return 0;
      const rank = Math.min(Math.max(Math.ceil((p / 100) * sorted.length), 1), sorted.length);
      return sorted[rank - 1] / 1000;
    };
    return { p50_us: pct(50), p99_us: pct(99) };
  }

  await phase(o.warmup, 0, false);
  out({ ok: true, ready: true });

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === "run") {
      const r = await phase(parseInt(arg, 10), o.durationMs, true);
      out(Object.assign({ ok: true }, r, percentiles()));
    } else if (cmd === "quit" || cmd === undefined) {
      break;
    } else {
      fail(`unknown command ${line}`);
    }
  }
  rsmq.quit();
  setTimeout(() => process.exit(0), 50);
}

main().catch((e) => fail(String((e && e.stack) || e)));
